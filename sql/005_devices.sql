-- Devices, read markers and the presence setting (issue 20).
--
-- inbox_cursor.acked_seq keeps its name but is now the user's FLOOR: the lowest acked position among the
-- user's devices active within DEVICE_RETENTION_DAYS, as last computed (by the pruner, for users whose
-- acks were written). It only moves forward, and not at all while the user has no active device; inbox
-- rows below it are pruned. An existing deployment keeps every user's acked cursor as that user's floor:
-- nothing undelivered is lost, and each device that appears later starts there.
--
-- inbox_cursor.device_gen is bumped by every device that joins the active set (a new device, or one back
-- after the retention window), in the same transaction that inserts it at the floor. The pruner raises a
-- floor only if device_gen is still what it read together with the devices' positions, so a device joining
-- meanwhile is never left below a floor computed without it.
ALTER TABLE inbox_cursor
  ADD COLUMN device_gen INT NOT NULL DEFAULT 0 COMMENT 'bumped when a device joins the active set';

-- One row per (user, device): the device's acked position in the user's one inbox, its token epoch
-- (bumped by its logout), and when it last opened a session or acked (ms since the epoch; a device
-- created by a logout alone has the smallest safe integer, so it is never active). Device names are
-- 1–64 characters of [A-Za-z0-9._:-], compared exactly (binary).
CREATE TABLE inbox_device (
  user_id INT NOT NULL,
  device VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  acked_seq BIGINT NOT NULL DEFAULT 0,
  epoch INT NOT NULL DEFAULT 0,
  active_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, device)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- A user's read position per conversation (conversation keys as in message.conversation), moved forward
-- only. The secondary key lists a conversation's markers (1:1: both sides; groups: the members).
CREATE TABLE read_marker (
  user_id INT NOT NULL,
  conversation VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  up_to BIGINT NOT NULL,
  PRIMARY KEY (user_id, conversation),
  KEY ix_read_marker_conversation (conversation, user_id, up_to)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

ALTER TABLE user
  ADD COLUMN presence_hidden BOOLEAN NOT NULL DEFAULT FALSE COMMENT 'friends see the user offline';
