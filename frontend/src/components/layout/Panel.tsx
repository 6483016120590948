import type { ReactNode } from "react";

/** A glass panel with a title row. */
export function Panel({
  title,
  aside,
  children,
  className = "",
  testId,
}: {
  title: ReactNode;
  aside?: ReactNode;
  children: ReactNode;
  className?: string;
  testId?: string;
}) {
  return (
    <section className={`glass flex min-w-0 flex-col p-4 ${className}`} data-testid={testId}>
      <header className="mb-3 flex items-center justify-between gap-2">
        <h2 className="text-sm font-semibold uppercase tracking-wider text-slate-300">{title}</h2>
        {aside ? <div className="text-xs text-slate-400">{aside}</div> : null}
      </header>
      {children}
    </section>
  );
}
