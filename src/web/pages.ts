/**
 * The paths the web app answers (its client router in src/web/app/main.tsx draws them). The server
 * sends the app's index.html for these and a JSON 404 for anything else. Add a page: a line here
 * and a route in main.tsx.
 */
export const PAGE_PATHS: RegExp[] = [
  /^\/$/,
  /^\/signin$/,
  /^\/signin\/mastodon$/,
  /^\/signup$/,
  /^\/onboarding$/,
  /^\/verify-email$/,
  /^\/wallet$/,
  /^\/cart$/,
  /^\/mailbox$/,
  /^\/merchant(\/[a-z0-9_-]+){0,2}$/,
  /^\/tags\/[\p{L}\p{N}_]{1,64}$/u,
  /^\/@[a-z0-9_.-]{1,64}$/,
];
