import type { ReactNode } from "react";
import { TONE_BADGE, TONE_DOT, type Tone } from "@/lib/severity";

export function Badge({ tone, children, title }: { tone: Tone; children: ReactNode; title?: string }) {
  return (
    <span
      title={title}
      className={`inline-flex shrink-0 items-center gap-1 whitespace-nowrap rounded-full border px-2 py-0.5 text-xs font-medium ${TONE_BADGE[tone]}`}
    >
      {children}
    </span>
  );
}

export function Dot({ tone, pulse = false }: { tone: Tone; pulse?: boolean }) {
  return <span className={`inline-block h-2 w-2 rounded-full ${TONE_DOT[tone]} ${pulse ? "animate-pulse" : ""}`} />;
}
