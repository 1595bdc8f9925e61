import { api } from './common.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
if (params.get('handle')) $('handle').value = params.get('handle');

api('GET', '/demo/info')
  .then((info) => ($('demo-hint').hidden = !info.demo))
  .catch(() => {});

$('signup').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('error').textContent = '';
  const required = [
    'handle',
    'email',
    'name',
    'line1',
    'city',
    'postal_code',
    'country',
    'number',
    'exp',
    'cvc',
  ];
  const missing = required.filter((id) => $(id).value.trim() === '');
  for (const id of required) $(id).setAttribute('aria-invalid', String(missing.includes(id)));
  if (missing.length > 0) {
    $('error').textContent =
      `Please fill in: ${missing.map((id) => $(id).labels[0].textContent.split('(')[0].trim()).join(', ')}.`;
    $(missing[0]).focus();
    return;
  }
  const exp = /^(\d{1,2})\s*\/\s*(\d{2,4})$/.exec($('exp').value.trim());
  if (!exp) {
    $('error').textContent = 'Expiry is MM/YY, for example 12/30.';
    $('exp').focus();
    return;
  }
  try {
    const handle = $('handle').value.trim().replace(/^@/, '').toLowerCase();
    let token = $('token').value.trim();
    if (token === '') token = (await api('POST', '/demo/signin', { handle })).token;
    // The card goes to the processor's tokenization endpoint only; the form forgets it at once.
    const card = await api('POST', '/v1/sandbox/tokens', {
      number: $('number').value.replace(/\s+/g, ''),
      exp_month: Number(exp[1]),
      exp_year: Number(exp[2]),
      cvc: $('cvc').value.trim(),
    });
    $('number').value = '';
    $('cvc').value = '';
    const shopper = await api(
      'POST',
      '/v1/shoppers',
      {
        handle,
        network: 'local',
        email: $('email').value.trim(),
        shipping_address: {
          name: $('name').value.trim(),
          line1: $('line1').value.trim(),
          city: $('city').value.trim(),
          postal_code: $('postal_code').value.trim(),
          country: $('country').value.trim(),
        },
        card_token: card.id,
      },
      token,
    );
    $('signup').hidden = true;
    $('done').hidden = false;
    const brand =
      { visa: 'Visa', mastercard: 'Mastercard', amex: 'American Express', discover: 'Discover' }[
        shopper.card.brand
      ] ?? 'card';
    $('done').textContent =
      `Linked @${shopper.handle} to your ${brand} ending in ${shopper.card.last4}. Any checkout waiting for you now gets its confirmation code on the timeline.`;
  } catch (e) {
    $('error').textContent = friendly(e);
  }
});

/** The API's errors in words for a person filling the form. */
function friendly(e) {
  switch (e.code) {
    case 'INVALID_CARD':
      return 'That card number or CVC does not look right. Please check it.';
    case 'CARD_EXPIRED':
      return 'That card has expired.';
    case 'UNAUTHENTICATED':
      return 'That account token is not right. Copy it again from where you created the account.';
    case 'FORBIDDEN':
      return 'That token belongs to another handle.';
    case 'INVALID_REQUEST':
      if (/exp_month|exp_year/.test(e.message))
        return 'Expiry is MM/YY with a month from 01 to 12.';
      if (/email/.test(e.message)) return 'Please enter a valid e-mail address.';
      if (/country/.test(e.message)) return 'Country is a two-letter code, like US or FR.';
      return 'Please check the form: ' + e.message;
    default:
      return e.message;
  }
}
