-- A user's full name (`sys_user.name`, what references to the user show); empty when none was given.
ALTER TABLE users ADD COLUMN name TEXT NOT NULL DEFAULT '';
