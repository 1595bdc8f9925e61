import {
  useId,
  useState,
  type InputHTMLAttributes,
  type ReactNode,
  type SelectHTMLAttributes,
} from 'react';
import { ApiError } from './api.ts';

/** A labelled input with its hint and error tied to it for screen readers (aria-describedby). */
export function Field(
  props: InputHTMLAttributes<HTMLInputElement> & {
    label: string;
    hint?: ReactNode;
    error?: string | null;
  },
) {
  const { label, hint, error, id, ...input } = props;
  const auto = useId();
  const fieldId = id ?? auto;
  const described = [hint ? `${fieldId}-hint` : null, error ? `${fieldId}-error` : null]
    .filter(Boolean)
    .join(' ');
  return (
    <div className={error ? 'field field-error' : 'field'}>
      <label htmlFor={fieldId}>{label}</label>
      {hint ? (
        <p className="hint" id={`${fieldId}-hint`}>
          {hint}
        </p>
      ) : null}
      <input
        id={fieldId}
        aria-invalid={error ? true : undefined}
        aria-describedby={described || undefined}
        {...input}
      />
      {error ? (
        <p className="error" id={`${fieldId}-error`}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

export function SelectField(
  props: SelectHTMLAttributes<HTMLSelectElement> & {
    label: string;
    error?: string | null;
    children: ReactNode;
  },
) {
  const { label, error, id, children, ...select } = props;
  const auto = useId();
  const fieldId = id ?? auto;
  return (
    <div className={error ? 'field field-error' : 'field'}>
      <label htmlFor={fieldId}>{label}</label>
      <select
        id={fieldId}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${fieldId}-error` : undefined}
        {...select}
      >
        {children}
      </select>
      {error ? (
        <p className="error" id={`${fieldId}-error`}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** A form-level message: errors are announced at once (role=alert), confirmations politely. */
export function Notice({ kind, children }: { kind: 'error' | 'ok' | 'info'; children: ReactNode }) {
  return (
    <div className={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

/**
 * State for a form that calls the API: busy while it runs, the error of each field (by the API's
 * `param`) and a form-level message for the rest.
 */
export function useSubmit() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const run = async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    setFieldErrors({});
    try {
      return await action();
    } catch (e) {
      // The message goes to the form's alert (announced) and, when the API named a field, beside it.
      if (e instanceof ApiError && e.param) setFieldErrors({ [e.param]: e.message });
      setError(e instanceof Error ? e.message : String(e));
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, fieldErrors, setError, setFieldErrors, run };
}
