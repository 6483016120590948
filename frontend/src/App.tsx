import { BrowserRouter, Route, Routes } from "react-router";
import { LiveProvider } from "@/api/live";
import { Panel } from "@/components/layout/Panel";
import { Empty } from "@/components/layout/States";
import { Shell } from "@/components/layout/Shell";
import { ChainPage } from "@/pages/ChainPage";
import { InfraPage } from "@/pages/InfraPage";
import { OverviewPage } from "@/pages/OverviewPage";
import { TracePage } from "@/pages/TracePage";
import { TracesPage } from "@/pages/TracesPage";

/** The routes; each view and selection has its URL (see the server's SPA fallback). */
export function App() {
  return (
    <BrowserRouter>
      <LiveProvider>
        <Shell>
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
        </Shell>
      </LiveProvider>
    </BrowserRouter>
  );
}
