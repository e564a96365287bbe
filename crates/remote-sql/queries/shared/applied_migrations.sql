SELECT version, checksum FROM {migrations}
