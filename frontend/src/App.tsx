import { lazy, Suspense } from "react";
import { BrowserRouter, Route, Routes } from "react-router";
import { LiveProvider } from "@/api/live";
import { Panel } from "@/components/layout/Panel";
import { Shell } from "@/components/layout/Shell";
import { Empty, Loading } from "@/components/layout/States";
import { TokenDialog } from "@/components/layout/TokenDialog";
import { OverviewPage } from "@/pages/OverviewPage";

// The Overview is in the first bundle; the other views load when first opened.
const ChainPage = lazy(() => import("@/pages/ChainPage").then((m) => ({ default: m.ChainPage })));
const InfraPage = lazy(() => import("@/pages/InfraPage").then((m) => ({ default: m.InfraPage })));
const TracePage = lazy(() => import("@/pages/TracePage").then((m) => ({ default: m.TracePage })));
const TracesPage = lazy(() => import("@/pages/TracesPage").then((m) => ({ default: m.TracesPage })));

/** The routes; each view and selection has its URL (see the server's SPA fallback). */
export function App() {
  return (
    <BrowserRouter>
      <LiveProvider>
        <Shell>
          <Suspense fallback={<Loading what="Loading the view" />}>
          <Routes>
            <Route path="/" element={<OverviewPage />} />
            <Route path="/traces" element={<TracesPage />} />
            <Route path="/traces/:traceId" element={<TracePage />} />
            <Route path="/traces/:traceId/chain" element={<ChainPage />} />
            <Route path="/tasks/:taskId" element={<ChainPage />} />
            <Route path="/infra" element={<InfraPage />} />
            <Route
              path="*"
              element={
                <Panel title="Not found">
                  <Empty>No such page.</Empty>
                </Panel>
              }
            />
          </Routes>
          </Suspense>
        </Shell>
        <TokenDialog />
      </LiveProvider>
    </BrowserRouter>
  );
}
