-- Parley schema, version 1. Table names follow the ancestor course server (user, friend, allgroup,
-- groupuser) so its users recognise them; offlinemessage is replaced by message + inbox + inbox_cursor.
-- utf8mb4 everywhere. Name uniqueness is case-insensitive through a lower-cased *_key column with a
-- binary collation, so MariaDB, MySQL 8 and the embedded store agree exactly.

CREATE TABLE user (
  id INT NOT NULL AUTO_INCREMENT,
  name VARCHAR(50) NOT NULL,
  name_key VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  password VARCHAR(100) NOT NULL COMMENT 'bcrypt hash, never plaintext',
  session_epoch INT NOT NULL DEFAULT 0 COMMENT 'bumped by logout; revokes session tokens',
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (id),
  UNIQUE KEY uq_user_name (name_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Friendship is mutual: both directions are stored, written in one transaction.
CREATE TABLE friend (
  userid INT NOT NULL,
  friendid INT NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (userid, friendid),
  CONSTRAINT fk_friend_user FOREIGN KEY (userid) REFERENCES user (id),
  CONSTRAINT fk_friend_friend FOREIGN KEY (friendid) REFERENCES user (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE allgroup (
  id INT NOT NULL AUTO_INCREMENT,
  groupname VARCHAR(50) NOT NULL,
  name_key VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  groupdesc VARCHAR(200) NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (id),
  UNIQUE KEY uq_allgroup_name (name_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE groupuser (
  groupid INT NOT NULL,
  userid INT NOT NULL,
  grouprole ENUM('creator', 'normal') NOT NULL DEFAULT 'normal',
  joined_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (groupid, userid),
  KEY ix_groupuser_user (userid),
  CONSTRAINT fk_groupuser_group FOREIGN KEY (groupid) REFERENCES allgroup (id),
  CONSTRAINT fk_groupuser_user FOREIGN KEY (userid) REFERENCES user (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Every chat message once. conversation is 'u:<low id>:<high id>' for 1:1 and 'g:<group id>' for groups,
-- so history of either kind is one index range. (sender_id, cmid) makes resends idempotent.
CREATE TABLE message (
  id BIGINT NOT NULL AUTO_INCREMENT,
  sender_id INT NOT NULL,
  to_user_id INT NULL,
  group_id INT NULL,
  conversation VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  body TEXT NOT NULL,
  client_time VARCHAR(64) NOT NULL,
  cmid VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  created_at BIGINT NOT NULL COMMENT 'ms since the epoch',
  PRIMARY KEY (id),
  UNIQUE KEY uq_message_cmid (sender_id, cmid),
  KEY ix_message_conversation (conversation, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- One row per (recipient, message): the recipient's inbox, gap-free sequence numbers per user. The
-- clustered key (user_id, seq) makes "everything after seq N" one range scan.
CREATE TABLE inbox (
  user_id INT NOT NULL,
  seq BIGINT NOT NULL,
  message_id BIGINT NOT NULL,
  PRIMARY KEY (user_id, seq)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Per-user sequence counter and acked cursor. Appends lock this row (ordered by user id), which serialises
-- concurrent senders to one recipient across every node without gaps or duplicates.
CREATE TABLE inbox_cursor (
  user_id INT NOT NULL,
  last_seq BIGINT NOT NULL DEFAULT 0,
  acked_seq BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
