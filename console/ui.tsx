/// <reference lib="dom" />
/**
 * The console's building blocks: buttons that are busy while their request runs and report
 * next to themselves, confirmation and secret dialogs (native <dialog>: focus trap and Escape
 * come with it), badges, times shown relative with the local time on hover.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Result } from './api.ts';
import { localTime, relativeTime } from './format.ts';

export type Feedback = { kind: 'ok' | 'error'; text: string } | undefined;

/** What the screen says after an action: a success message, or the error in words. */
export function FeedbackText({ feedback, testId }: { feedback: Feedback; testId?: string }) {
  return (
    <span class={`feedback ${feedback?.kind ?? ''}`} role={feedback?.kind === 'error' ? 'alert' : 'status'} data-testid={testId}>
      {feedback?.text ?? ''}
    </span>
  );
}

export interface Confirmation {
  title: string;
  body: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
}

interface ActionProps {
  label: string;
  /** A name that says what the button acts on, for screen readers ("Resend delivery dlv_…"). */
  ariaLabel?: string;
  /** Runs the request; its Result's message, or the `done` text, is shown beside the button. */
  run: () => Promise<Result<unknown> | undefined>;
  done?: (data: unknown) => string | undefined;
  confirm?: Confirmation;
  kind?: 'primary' | 'danger' | 'plain';
  testId?: string;
}

/** A button that cannot be pressed twice while its request runs and reports next to itself. */
export function ActionButton({ label, ariaLabel, run, done, confirm, kind = 'plain', testId }: ActionProps) {
  const [busy, setBusy] = useState(false);
  const [feedback, setFeedback] = useState<Feedback>();
  const [asking, setAsking] = useState(false);
  // Set at once, not at the next render: a second click in the same tick finds it.
  const running = useRef(false);
  const go = async () => {
    setAsking(false);
    if (running.current) return;
    running.current = true;
    setBusy(true);
    setFeedback(undefined);
    try {
      const result = await run();
      if (result && !result.ok) setFeedback({ kind: 'error', text: result.message });
      else {
        const text = done?.(result?.data);
        setFeedback(text ? { kind: 'ok', text } : undefined);
      }
    } finally {
      running.current = false;
      setBusy(false);
    }
  };
  return (
    <span class="action">
      <button type="button" class={kind} disabled={busy} aria-busy={busy} aria-label={ariaLabel} data-testid={testId} onClick={() => (confirm ? setAsking(true) : void go())}>
        {busy ? `${label}…` : label}
      </button>
      <FeedbackText feedback={feedback} />
      {confirm && asking && <ConfirmDialog {...confirm} onConfirm={() => void go()} onCancel={() => setAsking(false)} />}
    </span>
  );
}

function useModal(onClose: () => void) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current!;
    if (!dialog.open) dialog.showModal();
    const closed = () => onClose();
    dialog.addEventListener('close', closed);
    return () => dialog.removeEventListener('close', closed);
  }, []);
  return ref;
}

export function ConfirmDialog({ title, body, confirmLabel, danger, onConfirm, onCancel }: Confirmation & { onConfirm: () => void; onCancel: () => void }) {
  const ref = useModal(onCancel);
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" data-testid="confirm-dialog">
      <h2 id="confirm-title">{title}</h2>
      <div>{body}</div>
      <div class="dialog-actions">
        <button type="button" onClick={() => ref.current?.close()}>Cancel</button>
        <button type="button" class={danger ? 'danger' : 'primary'} data-testid="confirm" onClick={onConfirm}>{confirmLabel}</button>
      </div>
    </dialog>
  );
}

/** A new signing secret, shown this once, with a copy button and when the previous one stops signing. */
export function SecretDialog({ secret, previousExpiresAt, onClose }: { secret: string; previousExpiresAt?: string; onClose: () => void }) {
  const ref = useModal(onClose);
  const [copied, setCopied] = useState<Feedback>();
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied({ kind: 'ok', text: 'Copied' });
    } catch {
      setCopied({ kind: 'error', text: 'The browser refused the clipboard: select the secret and copy it' });
    }
  };
  return (
    <dialog ref={ref} aria-labelledby="secret-title" data-testid="secret-dialog">
      <h2 id="secret-title">Signing secret</h2>
      <p>Store it now in your receiver's configuration: it is shown only this once.</p>
      <p>
        <label for="secret-value">Secret</label>
        <input id="secret-value" class="secret" readOnly value={secret} data-testid="secret-value" onFocus={(e) => e.currentTarget.select()} />
      </p>
      {previousExpiresAt && (
        <p data-testid="previous-expiry">
          The previous secret keeps signing beside it until <time dateTime={previousExpiresAt}>{localTime(previousExpiresAt)}</time>.
        </p>
      )}
      <div class="dialog-actions">
        <button type="button" onClick={() => void copy()}>Copy secret</button>
        <FeedbackText feedback={copied} />
        <button type="button" class="primary" onClick={() => ref.current?.close()}>I have stored it</button>
      </div>
    </dialog>
  );
}

export function Badge({ value, testId }: { value: string; testId?: string }) {
  return <span class={`badge badge-${value.replace(/\s+/g, '-')}`} data-testid={testId}>{value}</span>;
}

export function RelTime({ iso }: { iso?: string | null }) {
  if (!iso) return <span>—</span>;
  return <time dateTime={iso} title={localTime(iso)}>{relativeTime(iso)}</time>;
}

/** Loading, failed, or the content: every screen says which. */
export function Loaded<T>({ result, children }: { result: Result<T> | undefined; children: (data: T) => ComponentChildren }) {
  if (!result) return <p class="muted" role="status">Loading…</p>;
  if (!result.ok) return <p class="feedback error" role="alert">{result.message}</p>;
  return <>{children(result.data)}</>;
}
