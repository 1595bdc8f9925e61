import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { IdResolver } from '@atproto/identity';
import pino from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { NewEvent } from '../../engine/log.ts';
import type { ConnectorDeps } from '../connector.ts';
import type { FetchedPost } from './client.ts';
import { BlueskyConnector, CURSOR_NAME, JETSTREAM_REWIND_US } from './connector.ts';

const DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz';
const T0 = 1_725_911_162_000_000;

function message(timeUs: number, rkey: string, record: unknown, operation = 'create'): string {
  return JSON.stringify({
    did: DID,
    time_us: timeUs,
    kind: 'commit',
    commit: { rev: rkey, operation, collection: 'app.bsky.feed.post', rkey, record, cid: 'bafy' },
  });
}

const post = (text: string) => ({
  $type: 'app.bsky.feed.post',
  text,
  createdAt: '2024-09-09T19:46:02.102Z',
});
const uri = (rkey: string) => `at://${DID}/app.bsky.feed.post/${rkey}`;

/** A log and a cursors table in memory, with the log's unique key. */
function memoryDeps(cursor: string | null) {
  const cursors = new Map<string, string>();
  if (cursor !== null) cursors.set(CURSOR_NAME, cursor);
  const log: NewEvent[] = [];
  const tx = {
    query: async (_sql: string, params: unknown[]) => {
      cursors.set(params[0] as string, params[1] as string);
      return { rows: [] };
    },
  };
  const deps = {
    db: {
      query: async (_sql: string, params: unknown[]) => {
        const value = cursors.get(params[0] as string);
        return { rows: value === undefined ? [] : [{ value }] };
      },
    },
    log: {
      append: async (events: NewEvent[], alsoIn?: (tx: unknown) => Promise<void>) => {
        const fresh = events.filter((e) => !log.some((l) => l.key === e.key));
        log.push(...fresh);
        if (alsoIn) await alsoIn(tx);
        return events.map((e) => (fresh.includes(e) ? 1n : null));
      },
    },
    clock: { now: () => 1 },
    logger: pino({ level: 'silent' }),
    liveHashtags: () => [],
  } as unknown as ConnectorDeps;
  return { deps, log, cursors };
}

async function until(what: string, probe: () => boolean): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (probe()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('jetstream: cursor and rewind, hashtag posts only, codes re-read from the PDS, bad messages skipped, reconnects', async () => {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  const urls: string[] = [];
  const sockets: WebSocket[] = [];
  let onConnect: (socket: WebSocket) => void = () => {};
  server.on('connection', (socket, req) => {
    urls.push(req.url!);
    sockets.push(socket);
    onConnect(socket);
  });
  const port = (server.address() as AddressInfo).port;
  const onPds = new Map<string, FetchedPost>([
    [
      uri('3kcode1'),
      { uri: uri('3kcode1'), cid: 'c', text: '#TPABCDEFGHJK', replyTo: null, root: {} as never },
    ],
    [
      uri('3kcode3'),
      { uri: uri('3kcode3'), cid: 'c', text: 'something else', replyTo: null, root: {} as never },
    ],
  ]);
  const fetched: string[] = [];
  const { deps, log, cursors } = memoryDeps(String(T0));
  const connector = new BlueskyConnector(
    { kind: 'jetstream', url: `ws://127.0.0.1:${port}` },
    deps,
    {
      fetchPost: async (u) => {
        fetched.push(u);
        return onPds.get(u) ?? null;
      },
    },
    new IdResolver(),
    () => 0,
  );
  try {
    onConnect = (socket) => {
      for (const m of [
        'not json #Buy',
        message(T0 + 1, '3kbuy', post('I want it #BuyTee')),
        message(T0 + 2, '3kplain', post('no hashtag at all')),
        message(T0 + 3, '3kcode1', post('#TPABCDEFGHJK')),
        message(T0 + 4, '3kcode2', post('#TPABCDEFGHJK forged')),
        message(T0 + 5, '3kcode3', post('#TPABCDEFGHJK edited')),
        message(T0 + 6, '3kbad', { text: 42, note: '#BuyTee' }),
        message(T0 + 7, '3klong', post(`#BuyTee ${'x'.repeat(6_000)}`)),
        message(T0 + 8, '3kbuy', undefined, 'delete'),
        JSON.stringify({ did: DID, time_us: T0 + 9, kind: 'identity', identity: {} }),
      ]) {
        socket.send(m);
      }
    };
    await connector.start();
    assert.equal(
      urls[0],
      `/subscribe?wantedCollections=app.bsky.feed.post&cursor=${T0 - JETSTREAM_REWIND_US}`,
      'resumes a few seconds before the saved cursor',
    );
    await until(
      'the cursor past the last message',
      () => cursors.get(CURSOR_NAME) === String(T0 + 9),
    );
    assert.deepEqual(
      log.map((e) => e.key),
      [`post:bluesky:${uri('3kbuy')}`, `post:bluesky:${uri('3kcode1')}`],
      'the hashtag post and the code post the PDS confirms; nothing else',
    );
    assert.deepEqual(fetched, [uri('3kcode1'), uri('3kcode2'), uri('3kcode3')]);
    assert.equal(connector.health().state, 'live');

    // The server drops the connection: the connector comes back from its cursor, and what it reads
    // again is a duplicate the log drops.
    onConnect = (socket) => socket.send(message(T0 + 1, '3kbuy', post('I want it #BuyTee')));
    sockets[0]!.terminate();
    await until('a reconnection', () => urls.length === 2);
    assert.equal(
      urls[1],
      `/subscribe?wantedCollections=app.bsky.feed.post&cursor=${T0 + 9 - JETSTREAM_REWIND_US}`,
    );
    await until('the repeat to be handled', () => connector.health().events === 3);
    assert.equal(log.length, 2);
    assert.equal(connector.health().reconnects, 1);
  } finally {
    await connector.stop();
    await new Promise((resolve) => server.close(resolve));
  }
  assert.equal(connector.health().state, 'stopped');
});

test('jetstream: an unreachable server is retried with backoff and reported, and stop ends it', async () => {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  const { deps } = memoryDeps(null);
  const connector = new BlueskyConnector(
    { kind: 'jetstream', url: `ws://127.0.0.1:${port}` },
    deps,
    { fetchPost: async () => null },
    new IdResolver(),
    () => 0,
  );
  await connector.start();
  await until('a reconnect', () => connector.health().reconnects >= 1);
  assert.equal(connector.health().state, 'backoff');
  assert.match(connector.health().lastError ?? '', /ECONNREFUSED/);
  await connector.stop();
  assert.equal(connector.health().state, 'stopped');
});
