/**
 * The dashboard's entry: the session of this browser tab (sessionStorage),
 * then the sign-in page or the live fleet.
 */
import './style.css';
import { startApp } from './app.ts';
import { showSignIn } from './signin.ts';
import type { Session } from './types.ts';

const KEY = 'hatake.session';
const root = document.getElementById('app')!;
let stop: (() => void) | undefined;

function stored(): Session | undefined {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Session | null;
    return s && s.expiresAt > Date.now() + 5000 ? s : undefined;
  } catch {
    return undefined;
  }
}

function signedIn(s: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(s));
  document.body.dataset['signedIn'] = s.user.username;
  stop = startApp(root, s, signOut);
}

function signOut(notice?: string): void {
  stop?.();
  stop = undefined;
  sessionStorage.removeItem(KEY);
  delete document.body.dataset['signedIn'];
  delete document.body.dataset['view'];
  showSignIn(root, signedIn, notice);
}

const s = stored();
if (s) signedIn(s);
else showSignIn(root, signedIn);
