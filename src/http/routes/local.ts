import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { TagpayError } from '../../core/errors.ts';
import { LOCAL_POST_TEXT_CHARS_MAX } from '../../core/limits.ts';
import type { AppContext } from '../../app-context.ts';
import { requireLocalAccount, guard } from '../auth.ts';
import { errorResponses, security, send, json } from '../route.ts';
import { HandleSchema, LocalPostSchema, PageLimit } from '../schemas.ts';

/** The built-in local network's API: accounts, posts, replies, the timeline. */
export function localRoutes(api: OpenAPIHono, app: AppContext): void {
  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/local/accounts',
      tags: ['Local network'],
      summary: 'Create a local network account; the token is shown once',
      request: { body: { required: true, ...json(z.object({ handle: HandleSchema })) } },
      responses: {
        201: {
          description: 'Created',
          ...json(z.object({ handle: z.string(), token: z.string() })),
        },
        ...errorResponses,
      },
    }),
    async (c) => send(c, await app.local.createAccount(c.req.valid('json').handle), 201),
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/local/posts',
      tags: ['Local network'],
      security,
      middleware: [guard(app, 'local')] as const,
      summary: 'Post (or reply) as the account of the bearer token',
      request: {
        body: {
          required: true,
          ...json(
            z.object({
              text: z.string().openapi({ maxLength: LOCAL_POST_TEXT_CHARS_MAX }),
              reply_to: z.union([z.string(), z.number().int()]).nullable().optional(),
            }),
          ),
        },
      },
      responses: { 201: { description: 'Posted', ...json(LocalPostSchema) }, ...errorResponses },
    }),
    async (c) => {
      const author = await requireLocalAccount(app, c);
      const body = c.req.valid('json');
      const replyTo =
        body.reply_to === undefined || body.reply_to === null ? null : String(body.reply_to);
      return send(c, await app.local.createPost(author, body.text, replyTo), 201);
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/local/posts',
      tags: ['Local network'],
      summary: 'The timeline, newest first; filter by mention (or reply) and author',
      request: {
        query: z.object({
          mentions: z.string().max(64).optional(),
          author: z.string().max(64).optional(),
          limit: PageLimit,
          starting_after: z
            .string()
            .regex(/^[0-9]{1,18}$/)
            .optional(),
        }),
      },
      responses: {
        200: {
          description: 'Posts',
          ...json(
            z.object({
              object: z.literal('list'),
              data: z.array(LocalPostSchema),
              has_more: z.boolean(),
            }),
          ),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const posts = await app.local.listPosts({
        limit: q.limit + 1,
        ...(q.mentions !== undefined && { mentions: q.mentions }),
        ...(q.author !== undefined && { author: q.author }),
        ...(q.starting_after !== undefined && { before: q.starting_after }),
      });
      return send(c, {
        object: 'list',
        data: posts.slice(0, q.limit),
        has_more: posts.length > q.limit,
      });
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/local/posts/{id}',
      tags: ['Local network'],
      summary: 'One post',
      request: { params: z.object({ id: z.string().max(20) }) },
      responses: {
        200: { description: 'The post', ...json(LocalPostSchema) },
        404: errorResponses[400],
      },
    }),
    async (c) => {
      const post = await app.local.getPost(c.req.valid('param').id);
      if (post === null) throw new TagpayError('NOT_FOUND', 'No such post.', 'id');
      return send(c, post);
    },
  );
}
