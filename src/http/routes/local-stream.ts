import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import { TagpayError } from '../../core/errors.ts';
import { LOCAL_STREAMS_MAX, LOCAL_STREAM_HEARTBEAT_MS } from '../../core/limits.ts';
import type { AppContext } from '../../app-context.ts';
import type { LocalPost } from '../../networks/local/local.ts';
import { errorResponses } from '../route.ts';

/**
 * The local timeline, live: each new post (tagpay's replies included) as a server-sent event
 * `post` carrying the post's JSON. The page reloads the timeline when the stream (re)opens, so a
 * reconnect loses nothing.
 */
export function localStreamRoutes(api: OpenAPIHono, app: AppContext): void {
  let open = 0;
  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/local/stream',
      tags: ['Local network'],
      summary: 'New local posts as they are written (text/event-stream, event `post`)',
      responses: {
        200: {
          description: 'An event stream; each `post` event carries one post as JSON',
          content: { 'text/event-stream': { schema: z.string() } },
        },
        503: errorResponses[409],
      },
    }),
    (c) => {
      if (open >= LOCAL_STREAMS_MAX)
        throw new TagpayError('ENGINE_BUSY', 'Too many live timelines are open; try again soon.');
      open++;
      c.header('cache-control', 'no-store');
      return streamSSE(c, async (stream) => {
        const queue: LocalPost[] = [];
        let wake: (() => void) | null = null;
        const stop = app.local.onPost((post) => {
          queue.push(post);
          wake?.();
        });
        let closed = false;
        stream.onAbort(() => {
          closed = true;
          wake?.();
        });
        try {
          await stream.writeSSE({ event: 'ready', data: '{}', retry: 3000 });
          while (!closed) {
            const post = queue.shift();
            if (post) {
              await stream.writeSSE({ event: 'post', id: post.id, data: JSON.stringify(post) });
              continue;
            }
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, LOCAL_STREAM_HEARTBEAT_MS);
              wake = () => {
                clearTimeout(timer);
                resolve();
              };
            });
            wake = null;
            if (!closed && queue.length === 0) await stream.write(': keep-alive\n\n');
          }
        } finally {
          stop();
          open--;
        }
      });
    },
  );
}
