/** The nice value of this process's threads, as Linux reports them in /proc. */
import { readdirSync, readFileSync } from 'node:fs';

/** /proc/<pid>/task/<tid>/stat: the 17th field after the command's closing parenthesis is nice. */
export function niceOfThread(tid: number): number {
  const stat = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

export function niceOfThreads(): number[] {
  return readdirSync(`/proc/${process.pid}/task`).map((tid) => niceOfThread(Number(tid)));
}
