/** The sign-in page: the gateway's users (`POST /api/v1/auth/login`). */
import { ApiError, login } from './api.ts';
import { fill, h } from './dom.ts';
import type { Session } from './types.ts';

/** Shows the sign-in form in `root`; calls `done` with the session. */
export function showSignIn(root: HTMLElement, done: (s: Session) => void, notice?: string): void {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, 'data-testid': 'signin-username', autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'signin-password' });
  const error = h('p', { class: 'error', 'data-testid': 'signin-error', role: 'alert' }, notice ?? '');
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'signin-submit' }, 'Sign in');
  const form = h(
    'form',
    { class: 'signin', 'data-testid': 'signin-form' },
    h('h1', {}, 'hatake'),
    h('p', { class: 'hint' }, 'Live fleet and remote operation'),
    h('label', {}, 'User', username),
    h('label', {}, 'Password', password),
    submit,
    error,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit.disabled = true;
    error.textContent = '';
    login(username.value.trim(), password.value).then(
      (s) => done(s),
      (err: unknown) => {
        submit.disabled = false;
        error.textContent = err instanceof ApiError ? err.message : String(err);
        password.select();
      },
    );
  });
  fill(root, h('div', { class: 'signin-page' }, form));
  username.focus();
}
