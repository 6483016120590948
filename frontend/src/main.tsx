import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "@/App";
import { adoptUrlToken } from "@/api/client";
import "@/index.css";

adoptUrlToken();
createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
