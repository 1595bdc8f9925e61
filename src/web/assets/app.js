import { api, el } from './common.js';

const $ = (id) => document.getElementById(id);
const tokens = JSON.parse(sessionStorage.getItem('tagpay.tokens') ?? '{}');
let replyTo = null;
let bot = 'tagpay';
let lastTop = null;

function forget(handle) {
  delete tokens[handle];
  sessionStorage.setItem('tagpay.tokens', JSON.stringify(tokens));
}

async function tokenFor(handle) {
  if (!tokens[handle]) {
    const { token } = await api('POST', '/demo/signin', { handle });
    tokens[handle] = token;
    sessionStorage.setItem('tagpay.tokens', JSON.stringify(tokens));
  }
  return tokens[handle];
}

/**
 * Post text with hashtags as buttons (a click puts the hashtag in the post box), mentions marked, and
 * web links as links (the sign-up link in tagpay's replies).
 */
function renderText(text) {
  const out = el('p', { class: 'text' });
  const re = /(https?:\/\/[^\s]+|[#@][\p{L}\p{N}_.]+)/gu;
  let at = 0;
  for (const m of text.matchAll(re)) {
    out.append(text.slice(at, m.index));
    const word = m[0].replace(/[.,)]+$/, '');
    if (word.startsWith('http')) {
      out.append(el('a', { href: word, rel: 'noopener noreferrer' }, word));
    } else if (word.startsWith('#')) {
      out.append(
        el(
          'button',
          {
            class: 'tag',
            type: 'button',
            title: `Put ${word} in the post box`,
            onclick: () => useTag(word),
          },
          word,
        ),
      );
    } else {
      out.append(el('span', { class: 'mention' }, word));
    }
    out.append(m[0].slice(word.length));
    at = m.index + m[0].length;
  }
  out.append(text.slice(at));
  return out;
}

function useTag(tag) {
  const box = $('text');
  box.value = box.value.trim() === '' ? tag : `${box.value.trim()} ${tag}`;
  box.focus();
}

function setReply(post) {
  replyTo = post ? post.id : null;
  $('replying').hidden = !post;
  $('reply-id').textContent = post ? `${post.id} by @${post.author}` : '';
}

function renderPost(post) {
  const time = new Date(post.created_at).toLocaleTimeString();
  return el(
    'li',
    { class: post.author === bot ? 'post bot' : 'post', id: `post-${post.id}` },
    el(
      'div',
      { class: 'meta' },
      el('b', {}, `@${post.author}`),
      ` · ${time} · #${post.id}`,
      post.reply_to ? ` · ↳ reply to ${post.reply_to}` : '',
    ),
    renderText(post.text),
    el('button', { class: 'link', type: 'button', onclick: () => setReply(post) }, 'Reply'),
  );
}

const money = (price) => {
  const digits = price.currency === 'JPY' || price.currency === 'KRW' ? 0 : 2;
  return new Intl.NumberFormat(undefined, { style: 'currency', currency: price.currency }).format(
    price.amount / 10 ** digits,
  );
};
let shown = 50;

async function refresh() {
  try {
    const { data, has_more } = await api('GET', `/v1/local/posts?limit=${shown}`);
    const top = `${data[0]?.id ?? ''}/${data.length}`;
    if (top !== lastTop) {
      lastTop = top;
      $('posts').replaceChildren(...data.map(renderPost));
    }
    $('older').hidden = !has_more;
    const info = await api('GET', '/demo/info');
    $('offers').replaceChildren(
      ...info.offers.map((o) =>
        el(
          'li',
          {},
          el(
            'button',
            {
              class: 'tag',
              type: 'button',
              onclick: () =>
                useTag(
                  `#${o.hashtag}${o.variants.length ? ' ' + o.variants[Math.floor(o.variants.length / 2)] : ''}`,
                ),
            },
            `#${o.hashtag}`,
          ),
          ` ${o.title} — ${money(o.price)} · ${o.available} left, ${o.sold} sold`,
        ),
      ),
    );
  } catch (e) {
    $('error').textContent = e.message;
  }
}

async function init() {
  const info = await api('GET', '/demo/info');
  bot = info.bot ?? bot;
  const select = $('as');
  if (!info.demo) {
    select.replaceChildren(el('option', { value: '' }, 'demo mode is off'));
    select.disabled = true;
    $('post').disabled = true;
  } else {
    select.replaceChildren(...info.accounts.map((h) => el('option', { value: h }, `@${h}`)));
  }
  $('reply-clear').addEventListener('click', () => setReply(null));
  $('older').addEventListener('click', async () => {
    shown = Math.min(shown + 50, 100);
    await refresh();
  });
  $('composer').addEventListener('submit', async (event) => {
    event.preventDefault();
    $('error').textContent = '';
    const text = $('text').value;
    if (text.trim() === '') {
      $('error').textContent = 'Write something first.';
      return;
    }
    try {
      const body = { text, reply_to: replyTo };
      try {
        await api('POST', '/v1/local/posts', body, await tokenFor(select.value));
      } catch (e) {
        // A token from before a data reset: sign in again once.
        if (e.code !== 'UNAUTHENTICATED') throw e;
        forget(select.value);
        await api('POST', '/v1/local/posts', body, await tokenFor(select.value));
      }
      $('text').value = '';
      setReply(null);
      await refresh();
    } catch (e) {
      $('error').textContent = e.message;
    }
  });
  await refresh();
  setInterval(refresh, 1000);
}

init().catch((e) => ($('error').textContent = e.message));
