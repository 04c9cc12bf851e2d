import { errInfo, type Logger } from './logger.js';

/** Credentials that may ride in an error message (connection strings, bearer tokens), masked before logging. */
function redact(text: string | undefined): string | undefined {
  return text?.replace(/(\/\/)[^/\s:@]+:[^@\s]+@/g, '$1***@').replace(/(bearer\s+)[\w.~+/-]+=*/gi, '$1***');
}

/**
 * The last line of defence of a serving process (`lms start`, `lms node`): whatever one request set off
 * and nobody caught (an 'error' event without a listener, a rejected promise nobody awaited) is logged,
 * structured and without credentials, and the process goes on serving everyone else. Returns the uninstaller.
 */
export function guardProcess(log: Logger, proc: NodeJS.Process = process): () => void {
  const info = (err: unknown) => {
    const e = errInfo(err);
    return { ...e, message: redact(e.message) ?? '', stack: redact(e.stack) };
  };
  const onException = (err: unknown, origin: string) => log.error({ err: info(err), origin }, 'uncaught exception; the process goes on serving');
  const onRejection = (reason: unknown) => log.error({ err: info(reason), origin: 'unhandledRejection' }, 'unhandled rejection; the process goes on serving');
  proc.on('uncaughtException', onException);
  proc.on('unhandledRejection', onRejection);
  return () => {
    proc.off('uncaughtException', onException);
    proc.off('unhandledRejection', onRejection);
  };
}
