import { mkdir, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { AtpAgent, RichText } from '@atproto/api';
import { TestNetworkNoAppView } from '@atproto/dev-env';

/**
 * A real, small AT Protocol network for tests: a PDS and a PLC directory in this process
 * (@atproto/dev-env), with its files in a folder under tests/tmp that `close` removes.
 */
export interface BlueskyTestNetwork {
  pdsUrl: string;
  plcUrl: string;
  network: TestNetworkNoAppView;
  /** Creates an account on the PDS; its agent is logged in. */
  account(handle: string): Promise<BlueskyAccount>;
  close(): Promise<void>;
}

export interface BlueskyAccount {
  handle: string;
  did: string;
  password: string;
  agent: AtpAgent;
  /** Posts (a reply when `parentUri` is given, with root and parent as the app sets them). */
  post(text: string, parentUri?: string): Promise<{ uri: string; cid: string }>;
}

export interface PostView {
  uri: string;
  cid: string;
  text: string;
  reply?: { root: { uri: string; cid: string }; parent: { uri: string; cid: string } };
  facets?: { features: { $type: string; tag?: string }[] }[];
}

export async function openBlueskyNetwork(): Promise<BlueskyTestNetwork> {
  const dir = path.join(import.meta.dirname, '..', 'tmp', `bluesky-${process.pid}-${Date.now()}`);
  await mkdir(path.join(dir, 'pds'), { recursive: true });
  const network = await TestNetworkNoAppView.create({
    pds: {
      dataDirectory: path.join(dir, 'pds'),
      blobstoreDiskLocation: path.join(dir, 'blobs'),
    },
  });
  const pdsUrl = network.pds.url;
  return {
    pdsUrl,
    plcUrl: network.plc.url,
    network,
    async account(handle) {
      const agent = new AtpAgent({ service: pdsUrl });
      const password = `pw-${handle}-${Math.random().toString(36).slice(2)}`;
      const res = await agent.createAccount({ handle, email: `${handle}@example.com`, password });
      return {
        handle,
        did: res.data.did,
        password,
        agent,
        async post(text, parentUri) {
          const rt = new RichText({ text });
          await rt.detectFacets(agent);
          let reply: PostView['reply'];
          if (parentUri !== undefined) {
            const parent = await getPost(pdsUrl, parentUri);
            const parentRef = { uri: parent.uri, cid: parent.cid };
            reply = { root: parent.reply?.root ?? parentRef, parent: parentRef };
          }
          const out = await agent.com.atproto.repo.createRecord({
            repo: res.data.did,
            collection: 'app.bsky.feed.post',
            record: {
              $type: 'app.bsky.feed.post',
              text: rt.text,
              ...(rt.facets && { facets: rt.facets }),
              ...(reply && { reply }),
              createdAt: new Date().toISOString(),
            },
          });
          return { uri: out.data.uri, cid: out.data.cid };
        },
      };
    },
    async close() {
      await network.close();
      await rm(dir, { recursive: true, force: true });
      // tests/tmp itself goes too once no other test uses it.
      await rmdir(path.dirname(dir)).catch(() => {});
    },
  };
}

/** A post as the PDS holds it. */
export async function getPost(pdsUrl: string, uri: string): Promise<PostView> {
  const [repo, collection, rkey] = uri.replace('at://', '').split('/');
  const url = new URL('/xrpc/com.atproto.repo.getRecord', pdsUrl);
  url.search = new URLSearchParams({
    repo: repo!,
    collection: collection!,
    rkey: rkey!,
  }).toString();
  const res = await fetch(url);
  if (!res.ok) throw new Error(`getRecord ${uri}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { uri: string; cid: string; value: Omit<PostView, 'uri'> };
  return { ...body.value, uri: body.uri, cid: body.cid };
}

/** Every post of `did`, oldest first, as the PDS lists them. */
export async function postsOf(pdsUrl: string, did: string): Promise<PostView[]> {
  const url = new URL('/xrpc/com.atproto.repo.listRecords', pdsUrl);
  url.search = new URLSearchParams({
    repo: did,
    collection: 'app.bsky.feed.post',
    limit: '100',
  }).toString();
  const res = await fetch(url);
  if (!res.ok) throw new Error(`listRecords ${did}: ${res.status}`);
  const body = (await res.json()) as { records: { uri: string; cid: string; value: PostView }[] };
  return body.records.map((r) => ({ ...r.value, uri: r.uri, cid: r.cid })).reverse();
}
