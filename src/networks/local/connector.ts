import { CONNECTOR_BATCH_MAX } from '../../core/limits.ts';
import { mayMatter } from '../../core/post-grammar.ts';
import type { InputLog } from '../../engine/log.ts';
import type { Db } from '../../store/db.ts';
import { num } from '../../store/db.ts';

const CURSOR = 'connector:local';

/**
 * Turns local network posts into normalized post events in the input log, like every connector:
 * it reads after its cursor and saves the new cursor in the same transaction as the events it
 * appends. Posts without a `#` cannot hold a command and stop at the door.
 */
export class LocalConnector {
  constructor(
    private readonly db: Db,
    private readonly log: InputLog,
  ) {}

  /** Moves one batch of posts into the log; resolves to the number of posts read. */
  pump(): Promise<number> {
    return this.log.appendWith((append) =>
      this.db.transaction(async (tx) => {
        const cursor =
          (await tx.query<{ value: string }>('SELECT value FROM cursors WHERE name = $1', [CURSOR]))
            .rows[0]?.value ?? '0';
        const { rows } = await tx.query<{
          id: unknown;
          author: string;
          text: string;
          reply_to: unknown;
        }>(
          'SELECT id, author, text, reply_to FROM local_posts WHERE id > $1 ORDER BY id LIMIT $2',
          [cursor, CONNECTOR_BATCH_MAX],
        );
        if (rows.length === 0) return 0;
        const events = rows
          .filter((r) => mayMatter(r.text))
          .map((r) => ({
            key: `post:local:${String(r.id)}`,
            body: {
              kind: 'post' as const,
              network: 'local',
              postId: String(r.id),
              author: r.author,
              text: r.text,
              replyTo: r.reply_to === null ? null : String(r.reply_to),
            },
          }));
        await append(tx, events);
        await tx.query(
          'INSERT INTO cursors (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
          [CURSOR, String(num(rows[rows.length - 1]!.id))],
        );
        return rows.length;
      }),
    );
  }
}
