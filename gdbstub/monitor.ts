// `monitor …` commands (qRcmd). A registry keyed by word sequences, so other layers
// (src/debug's own commands, the world layer's) add commands without the packet code
// knowing them: `registry.register({ name: 'world stats', … })`.

export interface MonitorContext {
  /** Text for the user's terminal (sent as console output packets). */
  out(text: string): void;
  /** The thread the debugger has selected (`Hg`): the PE a command is about. */
  readonly thread: number;
}

export interface MonitorCommand {
  /** One or more words: 'help', 'info el', 'vcpu sysregs'. */
  readonly name: string;
  /** The argument synopsis shown by `monitor help`, e.g. '<addr> [regime]'. */
  readonly args?: string;
  /** One line for `monitor help`. */
  readonly help: string;
  run(args: string[], ctx: MonitorContext): void | Promise<void>;
}

/** A user's mistake in a monitor command: shown as one line, the session goes on. */
export class MonitorError extends Error {}

export class MonitorRegistry {
  private readonly commands = new Map<string, MonitorCommand>();

  constructor() {
    this.register({
      name: 'help',
      help: 'list the monitor commands',
      run: (_args, ctx) => ctx.out(this.helpText()),
    });
  }

  register(cmd: MonitorCommand): void {
    const key = normalise(cmd.name);
    if (this.commands.has(key)) throw new Error(`monitor command '${key}' is already registered`);
    this.commands.set(key, cmd);
  }

  unregister(name: string): void {
    this.commands.delete(normalise(name));
  }

  list(): MonitorCommand[] {
    return [...this.commands.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  helpText(): string {
    const rows = this.list().map((c) => [`${c.name}${c.args ? ' ' + c.args : ''}`, c.help] as const);
    const w = Math.max(...rows.map((r) => r[0].length));
    return rows.map(([u, h]) => `  ${u.padEnd(w)}  ${h}`).join('\n') + '\n';
  }

  /** Finds the command with the longest matching word prefix, and the remaining words. */
  resolve(line: string): { cmd: MonitorCommand; args: string[] } | undefined {
    const words = line
      .trim()
      .split(/\s+/)
      .filter((w) => w !== '');
    for (let n = words.length; n > 0; n--) {
      const cmd = this.commands.get(words.slice(0, n).join(' ').toLowerCase());
      if (cmd) return { cmd, args: words.slice(n) };
    }
    return undefined;
  }

  /**
   * Runs a command line; false when it failed. Every failure becomes one line of text for
   * the user (the stub then answers with an error packet), never an exception.
   */
  async dispatch(line: string, ctx: MonitorContext): Promise<boolean> {
    if (line.trim() === '') {
      ctx.out(this.helpText());
      return true;
    }
    const found = this.resolve(line);
    if (!found) {
      ctx.out(`unknown monitor command '${line.trim()}' (try 'monitor help')\n`);
      return false;
    }
    try {
      await found.cmd.run(found.args, ctx);
      return true;
    } catch (e) {
      if (e instanceof MonitorError) ctx.out(`${found.cmd.name}: ${e.message}\n`);
      else ctx.out(`${found.cmd.name}: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
      return false;
    }
  }
}

function normalise(name: string): string {
  return name.trim().split(/\s+/).join(' ').toLowerCase();
}
