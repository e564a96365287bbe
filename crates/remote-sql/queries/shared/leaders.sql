-- Every named lease (R33), in byte order of their names.
SELECT name, holder, until, note FROM {leaders} ORDER BY name
