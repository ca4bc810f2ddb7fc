// keepalived's notify_fifo lines, e.g. `INSTANCE "routerd_lan_vip" MASTER 150`.
export type VrrpState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP' | 'DELETED';

export interface NotifyEvent {
  readonly type: 'INSTANCE' | 'GROUP';
  readonly name: string;
  readonly state: VrrpState;
  readonly priority?: number;
}

const LINE = /^(INSTANCE|GROUP) "([^"]+)" (MASTER|BACKUP|FAULT|STOP|DELETED)(?: (\d+))?$/;

export function parseNotifyLine(line: string): NotifyEvent | undefined {
  const m = LINE.exec(line.trim());
  if (!m) return undefined;
  return { type: m[1] as NotifyEvent['type'], name: m[2]!, state: m[3] as VrrpState, ...(m[4] ? { priority: Number(m[4]) } : {}) };
}

export type Role = 'master' | 'backup' | 'fault' | 'unknown';

export function roleOf(state: VrrpState): Role {
  switch (state) {
    case 'MASTER':
      return 'master';
    case 'BACKUP':
      return 'backup';
    case 'FAULT':
      return 'fault';
    default:
      return 'unknown';
  }
}
