-- parley_append_batch (sql/003) again, with the access path fixed where it reads the counter rows.
--
-- The inbox insert joined the batch's recipients to inbox_cursor, and the optimizer was free to scan
-- inbox_cursor instead of looking the recipients up. It does so when the table is small (a new or test
-- deployment), and INSERT … SELECT then takes a shared lock on every counter row it scans, not only
-- the batch's: concurrent batches and ack writes (holding exclusive locks on other users' rows) then
-- deadlock with it — under load often enough that an append ran out of retries. STRAIGHT_JOIN and
-- FORCE INDEX (PRIMARY) make both reads one primary-key lookup per recipient, on rows this transaction
-- already holds. The results are unchanged; everything else is as in sql/003, whose header describes
-- the procedure.
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
