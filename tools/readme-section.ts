/** Replaces the README's generated section between `<!-- NAME:start -->` and `<!-- NAME:end -->`. */
import { readFileSync, writeFileSync } from 'node:fs';

export function writeReadmeSection(name: string, content: string, file = 'README.md'): void {
  const readme = readFileSync(file, 'utf8');
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  if (!readme.includes(start) || !readme.includes(end)) throw new Error(`${file} has no ${start} … ${end} section`);
  writeFileSync(
    file,
    readme.replace(new RegExp(`${start}[\\s\\S]*${end}`), () => `${start}\n${content.trim()}\n${end}`),
  );
}
