/**
 * Positions in the history's order. The scoring history and the audit log are ordered by
 * (writer_xid, id): the id of the transaction that wrote a row, then the row's id. Readers that
 * page or follow the history see only rows written by transactions older than the oldest one still
 * in progress (HORIZON): every row committed later was written by a transaction at or above that
 * horizon, so it always lands after everything already read. No write lock is needed for this; a
 * row becomes visible once every transaction older than its own has ended (writes are short: the
 * idle-in-transaction timeout bounds a stuck one).
 */

/** SQL for the horizon of the statement's snapshot (an initplan: evaluated once). */
export const HORIZON = '(SELECT history_horizon())';

export interface HistoryPosition {
  xid: string;
  id: string;
}

/**
 * `writerXid:id` as positions are written, or a bare id (cursors from before the history kept
 * writer ids: those rows have writer id 0). Null for null; the caller validated the shape.
 */
export function parsePosition(position: string | null): HistoryPosition | null {
  if (position === null) return null;
  const colon = position.indexOf(':');
  return colon < 0 ? { xid: '0', id: position } : { xid: position.slice(0, colon), id: position.slice(colon + 1) };
}

/** Whether `text` is a position (or a bare id): what a cursor may decode to. */
export function isPosition(text: string): boolean {
  return /^(\d{1,20}:)?\d{1,18}$/.test(text);
}
