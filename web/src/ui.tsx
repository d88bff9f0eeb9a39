// Building blocks every page uses: live data by polling, form fields that show the API error naming them,
// an error banner, a two-step confirmation for destructive actions, and times shown relative + local.
import { useCallback, useEffect, useId, useRef, useState, type ReactNode } from "react";
import { ApiError } from "./api";
import { localTime, relativeTime } from "./format";

// Polls fn every intervalMs while the tab is visible (the API has no event stream; a few small GETs every
// few seconds cost picd less than a held-open connection per browser tab, and survive picd restarts).
export function usePoll<T>(fn: () => Promise<T>, intervalMs: number) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const reload = useCallback(async () => {
    try {
      setData(await fnRef.current());
      setError(null);
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, "client", String(e), null));
    }
  }, []);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      if (document.visibilityState !== "hidden") await reload();
      if (!stopped && intervalMs > 0) timer = setTimeout(tick, intervalMs);
    };
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [reload, intervalMs]);
  return { data, error, reload };
}

export function ErrorBanner({ error }: { error: ApiError | Error | null | undefined }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error.message}
    </p>
  );
}

// The error for this field when the API named it, else nothing (the form's banner shows the rest).
export function fieldError(error: ApiError | null, field: string): string | undefined {
  return error && error.field === field ? error.message : undefined;
}
export function otherError(error: ApiError | null, fields: string[]): ApiError | null {
  return error && (!error.field || !fields.includes(error.field)) ? error : null;
}

interface FieldProps {
  label: string;
  name: string;
  value: string;
  onChange: (v: string) => void;
  error?: string;
  help?: ReactNode;
  type?: string;
  required?: boolean;
  autoComplete?: string;
  min?: number;
  max?: number;
  placeholder?: string;
}
export function Field(p: FieldProps) {
  const id = useId();
  const helpId = `${id}-help`;
  const errId = `${id}-err`;
  const described = [p.help ? helpId : "", p.error ? errId : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{p.label}</label>
      <input
        id={id}
        name={p.name}
        type={p.type ?? "text"}
        value={p.value}
        required={p.required}
        autoComplete={p.autoComplete}
        min={p.min}
        max={p.max}
        placeholder={p.placeholder}
        aria-invalid={p.error ? true : undefined}
        aria-describedby={described}
        onChange={(e) => p.onChange(e.target.value)}
      />
      {p.help && (
        <small id={helpId} className="help">
          {p.help}
        </small>
      )}
      {p.error && (
        <span id={errId} className="field-error" role="alert">
          {p.error}
        </span>
      )}
    </div>
  );
}

// A destructive action asks first, in place: the first press shows the question and a confirming button
// that gets the focus; Escape or Cancel goes back.
export function ConfirmButton(props: {
  label: string;
  question: string;
  confirmLabel: string;
  onConfirm: () => void | Promise<void>;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const yes = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) yes.current?.focus();
  }, [asking]);
  if (!asking)
    return (
      <button type="button" className="danger" disabled={props.disabled} onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  return (
    <span className="confirm" role="group" aria-label={props.question} onKeyDown={(e) => e.key === "Escape" && setAsking(false)}>
      <span>{props.question}</span>
      <button
        ref={yes}
        type="button"
        className="danger"
        onClick={async () => {
          setAsking(false);
          await props.onConfirm();
        }}
      >
        {props.confirmLabel}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

export function Time({ ts }: { ts: number }) {
  if (!ts) return <span>never</span>;
  return (
    <time dateTime={new Date(ts * 1000).toISOString()} title={localTime(ts)}>
      {relativeTime(ts)} <span className="local">({localTime(ts)})</span>
    </time>
  );
}

export function Page({ title, children }: { title: string; children: ReactNode }) {
  const h = useRef<HTMLHeadingElement>(null);
  // A new page moves the focus to its heading, so keyboard and screen-reader users know where they are.
  useEffect(() => {
    h.current?.focus();
    document.title = `${title} — pic`;
  }, [title]);
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title" tabIndex={-1} ref={h}>
        {title}
      </h1>
      {children}
    </section>
  );
}

// Runs an async action with busy state and error capture; the form shows the error by field.
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const run = useCallback(async <T,>(fn: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await fn();
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, "client", String(e), null));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}
