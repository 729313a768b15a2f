-- Message ids are reserved in blocks from this one-row sequence (UPDATE … LAST_INSERT_ID(next_id + n)),
-- so a batch of messages can be inserted in one multi-row statement with known ids. (Multi-row
-- AUTO_INCREMENT ids are not guaranteed consecutive under MySQL 8's interleaved lock mode.)
CREATE TABLE message_id_seq (
  id TINYINT NOT NULL,
  next_id BIGINT NOT NULL,
  PRIMARY KEY (id)
) ENGINE = InnoDB;

INSERT INTO message_id_seq (id, next_id) SELECT 1, COALESCE(MAX(id), 0) + 1 FROM message;
