SELECT RELEASE_LOCK(:lock_name) AS released
