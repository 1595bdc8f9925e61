import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  authorizationHeader,
  baseStringUri,
  hmacSha1Signature,
  percentEncode,
  signatureBaseString,
} from './oauth1.ts';

// X's worked example, "Creating a signature" (docs.x.com/fundamentals/authentication/oauth-1-0a/
// creating-a-signature): the documented base string, signing key and signature.
const X_EXAMPLE = {
  url: 'https://api.twitter.com/1.1/statuses/update.json?include_entities=true',
  status: 'Hello Ladies + Gentlemen, a signed OAuth request!',
  creds: {
    consumerKey: 'xvz1evFS4wEEPTGEFPHBog',
    consumerSecret: 'kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw',
    token: '370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb',
    tokenSecret: 'LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE',
  },
  nonce: 'kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg',
  timestamp: 1318622958,
  baseString:
    'POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521',
  signature: 'hCtSmYh+iHYCEqBWrE7C7hYmtUk=',
};

test("X's documented example: the base string and the signature match exactly", () => {
  const url = new URL(X_EXAMPLE.url);
  const params: [string, string][] = [
    ['include_entities', 'true'],
    ['status', X_EXAMPLE.status],
    ['oauth_consumer_key', X_EXAMPLE.creds.consumerKey],
    ['oauth_nonce', X_EXAMPLE.nonce],
    ['oauth_signature_method', 'HMAC-SHA1'],
    ['oauth_timestamp', String(X_EXAMPLE.timestamp)],
    ['oauth_token', X_EXAMPLE.creds.token],
    ['oauth_version', '1.0'],
  ];
  const base = signatureBaseString('POST', url, params);
  assert.equal(base, X_EXAMPLE.baseString);
  assert.equal(
    hmacSha1Signature(base, X_EXAMPLE.creds.consumerSecret, X_EXAMPLE.creds.tokenSecret),
    X_EXAMPLE.signature,
  );
});

test('the Authorization header carries the same signature, encoded, and every oauth_ field', () => {
  const header = authorizationHeader('POST', X_EXAMPLE.url, X_EXAMPLE.creds, {
    nonce: X_EXAMPLE.nonce,
    timestamp: X_EXAMPLE.timestamp,
    formParams: { status: X_EXAMPLE.status },
  });
  assert.equal(
    header,
    'OAuth oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", ' +
      'oauth_nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", ' +
      'oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D", oauth_signature_method="HMAC-SHA1", ' +
      'oauth_timestamp="1318622958", ' +
      'oauth_token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", oauth_version="1.0"',
  );
  const other = authorizationHeader('POST', X_EXAMPLE.url, X_EXAMPLE.creds, {
    nonce: X_EXAMPLE.nonce,
    timestamp: X_EXAMPLE.timestamp,
    formParams: { status: X_EXAMPLE.status + '?' },
  });
  assert.notEqual(other, header, 'the body is signed');
});

// RFC 5849 section 3.4.1.1's example request: its base string exercises repeated names, encoded
// names and values, an empty value and `+` in a form body (which is a space).
test('RFC 5849 section 3.4.1.1: the example signature base string', () => {
  const url = new URL('http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b');
  const params: [string, string][] = [
    ...url.searchParams.entries(),
    ['c2', ''],
    ['a3', '2 q'],
    ['oauth_consumer_key', '9djdj82h48djs9d2'],
    ['oauth_token', 'kkk9d7dh3k39sjv7'],
    ['oauth_signature_method', 'HMAC-SHA1'],
    ['oauth_timestamp', '137131201'],
    ['oauth_nonce', '7d8f3e4a'],
  ];
  assert.equal(
    signatureBaseString('post', url, params),
    'POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7',
  );
});

test('RFC 5849 section 3.4.1.2: the base string URI drops default ports, keeps others', () => {
  assert.equal(
    baseStringUri(new URL('HTTP://EXAMPLE.COM:80/r%20v/X?id=123')),
    'http://example.com/r%20v/X',
  );
  assert.equal(
    baseStringUri(new URL('https://www.example.net:8080/?q=1')),
    'https://www.example.net:8080/',
  );
  assert.equal(
    baseStringUri(new URL('https://api.x.com:443/2/tweets')),
    'https://api.x.com/2/tweets',
  );
});

test('percent-encoding: unreserved characters only are left alone, UTF-8 for the rest', () => {
  assert.equal(
    percentEncode("AZaz09-._~!*'() +/é☃"),
    'AZaz09-._~%21%2A%27%28%29%20%2B%2F%C3%A9%E2%98%83',
  );
});
