import { AppError } from '../errors.js';

// Control characters (C0, DEL, C1) would corrupt terminals and logs; names must not contain them.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/**
 * Text made valid Unicode: each lone UTF-16 surrogate (JSON can carry one, `"\ud800"`; UTF-8 cannot)
 * becomes U+FFFD, as a UTF-8 encoder would turn it. Message text is stored as UTF-8 (MySQL) or passed
 * through JSON_TABLE, which rejects it outright; doing it here once means every store keeps, and every
 * recipient sees, the same text.
 */
export function wellFormed(text: string): string {
  return text.toWellFormed();
}

// Characters that break or rewrite a printed line: C0 but TAB, DEL, C1.
// eslint-disable-next-line no-control-regex
const LINE_CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/u;

/**
 * Refuses text a recipient would print with line breaks or terminal controls in it (a newline in `msg`
 * could start a line that looks like another sender's message). v2 senders get this error; v1 senders'
 * text is kept and shown with visible markers to v1 recipients instead (their client hears no errors).
 */
export function checkPrintable(text: string, what: string): string {
  if (LINE_CONTROL.test(text)) {
    throw new AppError(
      'BAD_MESSAGE',
      `${what} contains control characters (line breaks, escapes); only TAB is allowed`,
    );
  }
  return text;
}

export const NAME_MAX_CHARS = 50;
export const GROUP_DESC_MAX_CHARS = 200;
/** bcrypt ignores bytes past 72, so longer passwords are refused rather than silently truncated. */
export const PASSWORD_MAX_BYTES = 72;

/** A user or group name: 1–50 characters, no control characters, no surrounding whitespace. */
export function checkName(name: string, what: 'name' | 'groupname'): string {
  if (name.length === 0 || name.trim().length === 0)
    throw new AppError('BAD_MESSAGE', `${what} must not be empty`);
  if (name.trim() !== name)
    throw new AppError('BAD_MESSAGE', `${what} must not start or end with whitespace`);
  if ([...name].length > NAME_MAX_CHARS)
    throw new AppError('BAD_MESSAGE', `${what} is longer than ${NAME_MAX_CHARS} characters`);
  if (CONTROL.test(name)) throw new AppError('BAD_MESSAGE', `${what} contains control characters`);
  if (!name.isWellFormed()) throw new AppError('BAD_MESSAGE', `${what} is not valid Unicode`);
  return name;
}

export function checkPassword(password: string): string {
  if (password.length === 0) throw new AppError('BAD_MESSAGE', 'password must not be empty');
  if (Buffer.byteLength(password, 'utf8') > PASSWORD_MAX_BYTES) {
    throw new AppError('BAD_MESSAGE', `password is longer than ${PASSWORD_MAX_BYTES} bytes`);
  }
  return password;
}

export function checkGroupDesc(desc: string): string {
  if ([...desc].length > GROUP_DESC_MAX_CHARS) {
    throw new AppError('BAD_MESSAGE', `groupdesc is longer than ${GROUP_DESC_MAX_CHARS} characters`);
  }
  if (!desc.isWellFormed()) throw new AppError('BAD_MESSAGE', 'groupdesc is not valid Unicode');
  return desc;
}

/** A message body, bounded and made valid Unicode (see `wellFormed`). */
export function checkBody(body: string, maxChars: number): string {
  if (body.length === 0) throw new AppError('BAD_MESSAGE', 'msg must not be empty');
  if (body.length > maxChars) throw new AppError('BAD_MESSAGE', `msg is longer than ${maxChars} characters`);
  return wellFormed(body);
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));
/** The last second formatted: every message without a client time needs one, and it changes once a second. */
let lastSecond = NaN;
let lastText = '';

/** The ancestor's "YYYY-MM-DD HH:MM:SS" in server local time. */
export function formatLegacyTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    const d = new Date(second * 1000);
    lastText = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
    lastSecond = second;
  }
  return lastText;
}

/** The key names are unique by (case-insensitive); every store compares names through it. */
export function nameKey(name: string): string {
  return name.normalize('NFC').toLowerCase();
}
