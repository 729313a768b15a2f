-- A whole batch of appends in one round trip. Before, a batch took seven sequential statements (id
-- reservation, START TRANSACTION, messages, counters, counter read-back, inbox rows, COMMIT); on a busy
-- node each of them waits for the event loop, so an append's latency was seven queueing delays.
--
-- `batch` is a JSON array, one object per message, in send order:
--   {"s": sender id, "u": recipient user id | "g": group id, "c": conversation key, "b": body,
--    "t": client time, "m": cmid (absent when none), "r": [recipient user ids, distinct]}
-- Result sets: (first_id) — the message ids are first_id, first_id + 1, … in array order — and then
-- (user_id, last_seq) for every recipient: its counter after the batch, so the caller numbers each
-- recipient's deliveries last_seq - (its count in the batch) + 1 … last_seq in array order, exactly as
-- the inbox rows were written here.
--
-- The id block is reserved in autocommit before the transaction (the sequence row is never held by a
-- batch). Counter rows are locked in user id order (ORDER BY in the counter upsert), so concurrent
-- batches on any node serialise per recipient without deadlocking each other. Any error rolls the
-- transaction back and is re-raised with its own code (ER_DUP_ENTRY on uq_message_cmid, deadlocks…).
-- JSON_TABLE columns are wide on purpose: the real columns' types then reject an oversize value with
-- the same strict-mode error a plain INSERT gives, instead of a silent cut in JSON_TABLE.
DELIMITER $$
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
    JOIN inbox_cursor c ON c.user_id = d.user_id;
  SELECT first_id;
  SELECT c.user_id, c.last_seq
    FROM inbox_cursor c
    WHERE c.user_id IN (
      SELECT r.user_id
      FROM JSON_TABLE(batch, '$[*]' COLUMNS (NESTED PATH '$.r[*]' COLUMNS (user_id INT PATH '$'))) AS r
    );
  COMMIT;
END$$
DELIMITER ;
