import { api, el } from './common.js';

const $ = (id) => document.getElementById(id);
const tokens = JSON.parse(sessionStorage.getItem('tagpay.tokens') ?? '{}');
let replyTo = null;
let bot = 'tagpay';
let lastTop = null;

async function tokenFor(handle) {
  if (!tokens[handle]) {
    const { token } = await api('POST', '/demo/signin', { handle });
    tokens[handle] = token;
    sessionStorage.setItem('tagpay.tokens', JSON.stringify(tokens));
  }
  return tokens[handle];
}

/** Post text with hashtags and mentions as buttons: clicking a hashtag puts it in the composer. */
function renderText(text) {
  const out = el('p', { class: 'text' });
  const re = /([#@][\p{L}\p{N}_.]+)/gu;
  let at = 0;
  for (const m of text.matchAll(re)) {
    out.append(text.slice(at, m.index));
    const word = m[0].replace(/\.+$/, '');
    if (word.startsWith('#')) {
      out.append(el('button', { class: 'tag', type: 'button', title: `Put ${word} in the post box`, onclick: () => useTag(word) }, word));
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
    el('div', { class: 'meta' }, el('b', {}, `@${post.author}`), ` · ${time} · #${post.id}`, post.reply_to ? ` · ↳ reply to ${post.reply_to}` : ''),
    renderText(post.text),
    el('button', { class: 'link', type: 'button', onclick: () => setReply(post) }, 'Reply'),
  );
}

async function refresh() {
  try {
    const { data } = await api('GET', '/v1/local/posts?limit=50');
    const top = data[0]?.id ?? null;
    if (top !== lastTop) {
      lastTop = top;
      $('posts').replaceChildren(...data.map(renderPost));
    }
    const info = await api('GET', '/demo/info');
    $('offers').replaceChildren(
      ...info.offers.map((o) =>
        el('li', {}, el('button', { class: 'tag', type: 'button', onclick: () => useTag(`#${o.hashtag}${o.variants[0] ? ' ' + o.variants[0] : ''}`) }, `#${o.hashtag}`),
          ` ${o.title} — ${(o.price.amount / 100).toFixed(2)} ${o.price.currency} · ${o.available} left, ${o.sold} sold`),
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
  $('composer').addEventListener('submit', async (event) => {
    event.preventDefault();
    $('error').textContent = '';
    const text = $('text').value;
    if (text.trim() === '') {
      $('error').textContent = 'Write something first.';
      return;
    }
    try {
      const token = await tokenFor(select.value);
      await api('POST', '/v1/local/posts', { text, reply_to: replyTo }, token);
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
