// Entry point: mounts the app; the stylesheet is a file of its own (the CSP allows no inline style).
import { createRoot } from "react-dom/client";
import { App } from "./App";
import "./style.css";

createRoot(document.getElementById("root")!).render(<App />);
