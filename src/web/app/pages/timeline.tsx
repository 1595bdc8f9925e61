import { useCallback, useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { api, idempotencyKey, type Session } from '../api.ts';
import { Notice, useSubmit } from '../forms.tsx';
import { Layout } from '../layout.tsx';
import { Link, useLocation } from '../router.tsx';
import { useSession } from '../session.tsx';

export interface LocalPost {
  id: string;
  author: string;
  text: string;
  reply_to: string | null;
  mentions: string[];
  created_at: string;
}

interface DemoInfo {
  demo: boolean;
  accounts: string[];
  offers: { id: string; title: string; hashtag: string; variants: string[]; available: number }[];
  bot?: string;
}

const TIMELINE_LIMIT = 100;
/** Replies followed up a thread to find its first post (a longer chain starts a thread of its own). */
const THREAD_DEPTH_MAX = 20;
const TEXT_MAX = 1000;

/**
 * The local network's timeline: post as a local account, see tagpay's replies arrive live (server-sent
 * events), hashtags and mentions as links. Clicking "use" on a hashtag puts it in the post box, which
 * is how a confirmation code gets posted back.
 */
export function TimelinePage({ tag, author }: { tag?: string; author?: string }) {
  const { session, adopt } = useSession();
  const { query } = useLocation();
  const [posts, setPosts] = useState<LocalPost[]>([]);
  const [live, setLive] = useState<'connecting' | 'live' | 'offline'>('connecting');
  const [demo, setDemo] = useState<DemoInfo | null>(null);
  const [text, setText] = useState(query.get('text') ?? '');
  const [replyTo, setReplyTo] = useState<LocalPost | null>(null);
  const form = useSubmit();
  const box = useRef<HTMLTextAreaElement>(null);

  const load = useCallback(async () => {
    const q = author ? `&author=${encodeURIComponent(author)}` : '';
    const list = await api<{ data: LocalPost[] }>(
      'GET',
      `/v1/local/posts?limit=${TIMELINE_LIMIT}${q}`,
    );
    setPosts(list.data);
  }, [author]);

  useEffect(() => {
    api<DemoInfo>('GET', '/demo/info').then(setDemo, () => setDemo(null));
  }, []);

  useEffect(() => {
    const source = new EventSource('/v1/local/stream');
    source.addEventListener('ready', () => {
      setLive('live');
      load().catch(() => {});
    });
    source.addEventListener('post', (e) => {
      const post = JSON.parse((e as MessageEvent<string>).data) as LocalPost;
      setPosts((old) => (old.some((p) => p.id === post.id) ? old : [post, ...old]));
    });
    source.onerror = () => setLive('offline');
    return () => source.close();
  }, [load]);

  const byId = new Map(posts.map((p) => [p.id, p]));
  const shown = posts.filter(
    (p) =>
      (!author || p.author === author) && (!tag || hashtagsOf(p.text).includes(tag.toLowerCase())),
  );
  // Threads: a post, then every post of its conversation under it, oldest first (replies to
  // replies too). tagpay answers a purchase under the post that started it — the code, then "Paid"
  // once the code is posted — so read in time order the thread goes: buy, code, confirmation, paid.
  const shownIds = new Set(shown.map((p) => p.id));
  const rootOf = (p: LocalPost): string => {
    let at = p;
    for (let hops = 0; hops < THREAD_DEPTH_MAX; hops++) {
      const parent = at.reply_to === null ? undefined : byId.get(at.reply_to);
      if (parent === undefined || !shownIds.has(parent.id)) break;
      at = parent;
    }
    return at.id;
  };
  const threads = new Map<string, LocalPost[]>();
  for (const p of shown) {
    const root = rootOf(p);
    if (root === p.id) continue;
    threads.set(root, [...(threads.get(root) ?? []), p]);
  }
  const roots = shown.filter((p) => rootOf(p) === p.id);
  const repliesOf = (id: string) =>
    (threads.get(id) ?? []).sort((a, b) => Number(a.id) - Number(b.id));

  const canPost = session?.signed_in && session.network === 'local' && session.handle;
  const switchTo = async (handle: string) => {
    const s = await form.run(() => api<Session>('POST', '/v1/session/demo', { handle }));
    if (s) adopt(s);
  };
  // "use" puts the code in the box as a reply to tagpay's post that carries it, so the confirmation
  // sits in the purchase's thread.
  const use = (word: string, post: LocalPost) => {
    setText((t) => (t.trim() ? `${t.trim()} ${word}` : word));
    setReplyTo(post);
    box.current?.focus();
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!text.trim()) {
      form.setError('Write something to post.');
      box.current?.focus();
      return;
    }
    const key = idempotencyKey();
    const created = await form.run(() =>
      api<LocalPost>(
        'POST',
        '/v1/local/posts',
        { text, ...(replyTo && { reply_to: replyTo.id }) },
        { idempotencyKey: key },
      ),
    );
    if (created) {
      setPosts((old) => (old.some((p) => p.id === created.id) ? old : [created, ...old]));
      setText('');
      setReplyTo(null);
    } else box.current?.focus();
  };

  const title = tag ? `#${tag}` : author ? `@${author}` : 'Local network';
  return (
    <Layout title={title}>
      <div className="two-col">
        <section aria-label="Timeline" className="timeline">
          {tag || author ? (
            <p>
              <Link to="/">← The whole timeline</Link>
            </p>
          ) : null}
          <form className="composer panel" onSubmit={submit} aria-label="Write a post" noValidate>
            <div className="composer-head">
              {canPost ? (
                <span>
                  Posting as <strong>@{session.handle}</strong>
                </span>
              ) : (
                <span>
                  <Link to="/signin?next=/">Sign in with a local account</Link> to post.
                </span>
              )}
              {demo?.demo ? (
                <label className="inline">
                  Post as{' '}
                  <select
                    value={session?.network === 'local' ? (session.handle ?? '') : ''}
                    onChange={(e) => e.target.value && switchTo(e.target.value)}
                  >
                    <option value="">choose…</option>
                    {demo.accounts.map((a) => (
                      <option key={a} value={a}>
                        @{a}
                      </option>
                    ))}
                  </select>
                </label>
              ) : null}
              <span className={`live live-${live}`} role="status">
                {live === 'live' ? 'Live' : live === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
              </span>
            </div>
            {replyTo ? (
              <p className="replying">
                Replying to @{replyTo.author}: “{replyTo.text.slice(0, 60)}”{' '}
                <button type="button" className="link" onClick={() => setReplyTo(null)}>
                  Cancel reply
                </button>
              </p>
            ) : null}
            <label htmlFor="post-text" className="sr-only">
              Post text
            </label>
            <textarea
              id="post-text"
              ref={box}
              rows={3}
              maxLength={TEXT_MAX}
              value={text}
              disabled={!canPost}
              placeholder="#BuyAcmeTee M — or write anything"
              aria-invalid={form.error ? true : undefined}
              aria-describedby={form.error ? 'post-error' : undefined}
              onChange={(e) => setText(e.target.value)}
            />
            <div className="actions end">
              <span className="hint">
                {[...text].length}/{TEXT_MAX}
              </span>
              <button type="submit" disabled={!canPost || form.busy}>
                {replyTo ? 'Reply' : 'Post'}
              </button>
            </div>
            {form.error ? (
              <div id="post-error">
                <Notice kind="error">{form.error}</Notice>
              </div>
            ) : null}
          </form>
          <ol className="posts" aria-label="Posts" aria-live="polite" aria-relevant="additions">
            {roots.map((p) => (
              <li key={p.id}>
                <PostCard
                  post={p}
                  bot={demo?.bot ?? 'tagpay'}
                  onReply={canPost ? setReplyTo : undefined}
                  onUse={canPost ? use : undefined}
                />
                {repliesOf(p.id).length > 0 ? (
                  <ol className="replies">
                    {repliesOf(p.id).map((r) => (
                      <li key={r.id}>
                        <PostCard
                          post={r}
                          bot={demo?.bot ?? 'tagpay'}
                          inReplyTo={r.reply_to === p.id ? null : byId.get(r.reply_to!)?.author}
                          onReply={canPost ? setReplyTo : undefined}
                          onUse={canPost ? use : undefined}
                        />
                      </li>
                    ))}
                  </ol>
                ) : null}
              </li>
            ))}
            {roots.length === 0 ? <li className="empty">No posts yet.</li> : null}
          </ol>
        </section>
        <aside className="side" aria-label="About the local network">
          <section className="panel">
            <h2>Try it</h2>
            <ol className="steps">
              <li>
                Post <code>#BuyAcmeTee M</code> as a linked shopper (alice in the demo).
              </li>
              <li>
                <strong>@tagpay</strong> replies with a one-time code like{' '}
                <code>#TP7K2QX4MZBA</code>.
              </li>
              <li>Press “use” beside the code, then Reply: the card is charged.</li>
            </ol>
            <h3>More to post</h3>
            <ul className="plain">
              <li>
                <code>#pay @bob $10 pizza</code> sends bob money from your wallet, then your card.
              </li>
              <li>
                <code>#request @alice $10 lunch</code> asks alice for money; she pays by confirming.
              </li>
              <li>
                Reply <code>#cart</code> to an offer to add it to your cart; post{' '}
                <code>#checkout</code> to pay for the cart at once.
              </li>
              <li>
                <code>#cancel</code> drops whatever still waits for your code: a purchase or a
                payment.
              </li>
            </ul>
          </section>
          {demo?.offers.length ? (
            <section className="panel">
              <h2>Live offers</h2>
              <ul className="offers">
                {demo.offers.map((o) => (
                  <li key={o.id}>
                    <Link to={`/tags/${o.hashtag}`}>#{o.hashtag}</Link> {o.title}
                    {o.variants.length ? ` (${o.variants.join(', ')})` : ''}
                    {o.available === 0 ? (
                      <>
                        {' '}
                        <span className="badge badge-bad">sold out</span>
                      </>
                    ) : null}
                  </li>
                ))}
              </ul>
            </section>
          ) : null}
        </aside>
      </div>
    </Layout>
  );
}

function hashtagsOf(text: string): string[] {
  return [...text.matchAll(/#([\p{L}\p{N}_]+)/gu)].map((m) => m[1]!.toLowerCase());
}

function PostCard(props: {
  post: LocalPost;
  bot: string;
  /** The author of the post this one answers, when it is not the thread's first post. */
  inReplyTo?: string | null | undefined;
  onReply: ((p: LocalPost) => void) | undefined;
  onUse: ((word: string, post: LocalPost) => void) | undefined;
}) {
  const { post, bot } = props;
  const time = new Date(post.created_at);
  return (
    <article
      className={post.author === bot ? 'post post-bot' : 'post'}
      aria-label={`Post by @${post.author}`}
    >
      <header>
        <Link to={`/@${post.author}`} className="author">
          @{post.author}
        </Link>
        <time dateTime={post.created_at} title={time.toLocaleString()}>
          {time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}
        </time>
      </header>
      {props.inReplyTo ? <p className="in-reply">replying to @{props.inReplyTo}</p> : null}
      <p className="text">
        {richText(
          post.text,
          post.author === bot && props.onUse ? (word) => props.onUse!(word, post) : undefined,
        )}
      </p>
      {props.onReply ? (
        <button
          type="button"
          className="link"
          onClick={() => props.onReply!(post)}
          aria-label={`Reply to @${post.author}`}
        >
          Reply
        </button>
      ) : null}
    </article>
  );
}

/** Hashtags and mentions as links, web links as links; a code-like hashtag gets a "use" button. */
function richText(text: string, onUse: ((word: string) => void) | undefined): ReactNode[] {
  const out: ReactNode[] = [];
  const re = /(https?:\/\/[^\s]+|#[\p{L}\p{N}_]+|@[a-z0-9_.-]*[a-z0-9_])/giu;
  let at = 0;
  let n = 0;
  for (const m of text.matchAll(re)) {
    out.push(text.slice(at, m.index));
    const word = m[0].replace(/[.,)]+$/, '');
    if (word.startsWith('http')) {
      out.push(
        <a key={n++} href={word} rel="noopener noreferrer">
          {word}
        </a>,
      );
    } else if (word.startsWith('#')) {
      out.push(
        <Link key={n++} to={`/tags/${word.slice(1)}`} className="tag">
          {word}
        </Link>,
      );
      if (onUse && /^#TP[A-Z2-7]{10}$/.test(word)) {
        out.push(
          <button
            key={n++}
            type="button"
            className="use"
            onClick={() => onUse(word)}
            aria-label={`Put ${word} in the post box`}
          >
            use
          </button>,
        );
      }
    } else {
      out.push(
        <Link key={n++} to={`/@${word.slice(1).toLowerCase()}`} className="mention">
          {word}
        </Link>,
      );
    }
    out.push(m[0].slice(word.length));
    at = m.index + m[0].length;
  }
  out.push(text.slice(at));
  return out;
}
