-- Message ids from the message table's AUTO_INCREMENT instead of the one-row message_id_seq (sql/002),
-- which every batch of every node updated (and committed) before its own transaction.
--
-- Nodes now write a batch as plain multi-row INSERTs in one multi-statement round trip
-- (src/model/mysql-append-sql.ts) and take the ids of a multi-row INSERT … VALUES from AUTO_INCREMENT:
-- consecutive (first, first + 1, …) wherever innodb_autoinc_lock_mode is 0 or 1 and
-- auto_increment_increment is 1 (MariaDB's defaults). Elsewhere (MySQL 8's default mode 2, Galera) they
-- keep calling parley_append_batch, which then reserves ids from message_id_seq as before.
--
-- parley_append_batch is redefined here so that nodes of the previous release, which still call it during
-- a rolling upgrade, take ids from the same source as the new ones and never collide with them: with the
-- settings above it inserts without explicit ids (INSERT … SELECT holds the table's AUTO-INC lock for the
-- whole statement in modes 0 and 1, so its ids are consecutive too). Otherwise it is sql/004's procedure,
-- whose header describes the arguments and results.
UPDATE message_id_seq SET next_id = GREATEST(next_id, (SELECT COALESCE(MAX(id), 0) + 1 FROM message)) WHERE id = 1;

DELIMITER $$
DROP PROCEDURE IF EXISTS parley_append_batch$$
CREATE PROCEDURE parley_append_batch(IN batch LONGTEXT, IN created_at_ms BIGINT)
MODIFIES SQL DATA
SQL SECURITY INVOKER
BEGIN
  DECLARE n INT DEFAULT JSON_LENGTH(batch);
  DECLARE first_id BIGINT;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION
  BEGIN
    ROLLBACK;
    RESIGNAL;
  END;
  IF @@innodb_autoinc_lock_mode IN (0, 1) AND @@auto_increment_increment = 1 THEN
    START TRANSACTION;
    INSERT INTO message (sender_id, to_user_id, group_id, conversation, body, client_time, cmid, created_at)
      SELECT j.sender_id, j.to_user_id, j.group_id, j.conversation, j.body, j.client_time, j.cmid, created_at_ms
      FROM JSON_TABLE(batch, '$[*]' COLUMNS (
        k FOR ORDINALITY,
        sender_id INT PATH '$.s',
        to_user_id INT PATH '$.u',
        group_id INT PATH '$.g',
        conversation TEXT PATH '$.c',
        body LONGTEXT PATH '$.b',
        client_time TEXT PATH '$.t',
        cmid TEXT PATH '$.m')) AS j
      ORDER BY j.k;
    SET first_id = LAST_INSERT_ID();
  ELSE
    UPDATE message_id_seq SET next_id = LAST_INSERT_ID(next_id + n) WHERE id = 1;
    SET first_id = LAST_INSERT_ID() - n;
    START TRANSACTION;
    INSERT INTO message (id, sender_id, to_user_id, group_id, conversation, body, client_time, cmid, created_at)
      SELECT first_id + j.k - 1, j.sender_id, j.to_user_id, j.group_id, j.conversation, j.body,
             j.client_time, j.cmid, created_at_ms
      FROM JSON_TABLE(batch, '$[*]' COLUMNS (
        k FOR ORDINALITY,
        sender_id INT PATH '$.s',
        to_user_id INT PATH '$.u',
        group_id INT PATH '$.g',
        conversation TEXT PATH '$.c',
        body LONGTEXT PATH '$.b',
        client_time TEXT PATH '$.t',
        cmid TEXT PATH '$.m')) AS j;
  END IF;
  INSERT INTO inbox_cursor (user_id, last_seq)
    SELECT r.user_id, COUNT(*)
    FROM JSON_TABLE(batch, '$[*]' COLUMNS (NESTED PATH '$.r[*]' COLUMNS (user_id INT PATH '$'))) AS r
    WHERE r.user_id IS NOT NULL
    GROUP BY r.user_id
    ORDER BY r.user_id
  ON DUPLICATE KEY UPDATE last_seq = last_seq + VALUES(last_seq);
  INSERT INTO inbox (user_id, seq, message_id)
    SELECT d.user_id, c.last_seq - d.cnt + d.rn, first_id + d.k - 1
    FROM (
      SELECT r.k, r.user_id,
             ROW_NUMBER() OVER (PARTITION BY r.user_id ORDER BY r.k) AS rn,
             COUNT(*) OVER (PARTITION BY r.user_id) AS cnt
      FROM JSON_TABLE(batch, '$[*]' COLUMNS (
        k FOR ORDINALITY,
        NESTED PATH '$.r[*]' COLUMNS (user_id INT PATH '$'))) AS r
      WHERE r.user_id IS NOT NULL
    ) AS d
    STRAIGHT_JOIN inbox_cursor c FORCE INDEX (PRIMARY) ON c.user_id = d.user_id;
  SELECT first_id;
  SELECT c.user_id, c.last_seq
    FROM (
      SELECT DISTINCT r.user_id
      FROM JSON_TABLE(batch, '$[*]' COLUMNS (NESTED PATH '$.r[*]' COLUMNS (user_id INT PATH '$'))) AS r
      WHERE r.user_id IS NOT NULL
    ) AS b
    STRAIGHT_JOIN inbox_cursor c FORCE INDEX (PRIMARY) ON c.user_id = b.user_id;
  COMMIT;
END$$
DELIMITER ;
