// The Gatehouse console: plain JavaScript modules served by the appliance
// itself (no build step, nothing from the internet). The shell in
// js/shell.js logs in, draws the header and navigation and routes
// #/... to the pages in js/pages/.
import { start } from './js/shell.js';

performance.mark('gh:boot');
start().catch((e) => console.error(e));
