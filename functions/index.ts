/**
 * The deployment entry point (package.json `main`): Cloud Run functions load this module and
 * run the function named by the deployment's entry point (`converter`, `launcher`, `poller`,
 * `completion`, `status`). Each registers itself; none connects to anything until its first event.
 */
import './converter/index.ts';
import './launcher/index.ts';
import './poller/index.ts';
import './completion/index.ts';
import './status/index.ts';
