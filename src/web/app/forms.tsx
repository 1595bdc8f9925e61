import {
  useId,
  useState,
  type InputHTMLAttributes,
  type ReactNode,
  type SelectHTMLAttributes,
} from 'react';
import { ApiError } from './api.ts';
import { fieldOf, plainMessage } from './errors.ts';

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
        <p className="error" id={`${fieldId}-error`} role="alert">
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
        <p className="error" id={`${fieldId}-error`} role="alert">
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

/** Thrown by a form's own checks: the fields marked, each with its own message. */
export class FieldProblems extends Error {
  constructor(readonly problems: Record<string, string>) {
    super('Some fields need a fix.');
  }
}

/**
 * State for a form that calls the API: busy while it runs, the error of each field and a form-level
 * message for the rest. Each error is shown once, in plain words (errors.ts): beside its field when
 * the form has that field (`fields`), otherwise at the top of the form; never both. The first field
 * in error takes the focus, so a keyboard or screen-reader user lands on it.
 */
export function useSubmit(fields: readonly string[] = []) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const focusFirstInvalid = () =>
    requestAnimationFrame(() =>
      document.querySelector<HTMLElement>('main [aria-invalid="true"]')?.focus(),
    );
  const run = async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    setFieldErrors({});
    try {
      return await action();
    } catch (e) {
      if (e instanceof FieldProblems) {
        setFieldErrors(e.problems);
        focusFirstInvalid();
        return undefined;
      }
      const message = plainMessage(e);
      const field = e instanceof ApiError ? fieldOf(e.param) : undefined;
      if (field && fields.includes(field)) {
        setFieldErrors({ [field]: message });
        focusFirstInvalid();
      } else setError(message);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  /** A field the person changed: what was said about its old value goes. */
  const clearField = (field: string) =>
    setFieldErrors((all) => {
      if (!(field in all)) return all;
      const { [field]: _, ...rest } = all;
      return rest;
    });
  return { busy, error, fieldErrors, setError, setFieldErrors, clearField, run };
}
