import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isPrivateAddress, webhookTargetProblem } from './ssrf.ts';

describe('webhook targets (SSRF guard)', () => {
  test('private, loopback, link-local and mapped addresses are private; public ones are not', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
    ]) {
      assert.equal(isPrivateAddress(a), true, a);
    }
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      assert.equal(isPrivateAddress(a), false, a);
    }
    assert.equal(isPrivateAddress('not-an-ip'), true, 'anything unreadable counts as private');
  });

  test('URLs naming private targets are refused unless the operator allows them', async () => {
    for (const url of [
      'http://127.0.0.1:8080/x',
      'http://[::1]/x',
      'http://localhost/x',
      'http://api.localhost/x',
      'http://169.254.169.254/latest/meta-data',
      'https://[::ffff:10.0.0.1]/',
    ]) {
      assert.notEqual(await webhookTargetProblem(url, false), null, url);
      assert.equal(await webhookTargetProblem(url, true), null, `${url} allowed`);
    }
    assert.equal(await webhookTargetProblem('https://93.184.216.34/hooks', false), null);
  });
});
