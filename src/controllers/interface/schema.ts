import { z } from 'zod';
import { kindApi } from '../../api/kinds.ts';
import { ifname } from '../../api/primitives.ts';

export const interfaceSpec = z.strictObject({
  ifname: ifname.describe('The kernel interface name this resource stands for, e.g. lan0.'),
});

declare module '../../api/kinds.ts' { interface KindSpecs { Interface: typeof interfaceSpec } }

export const interfaceApi = kindApi({
  kind: 'Interface', spec: interfaceSpec, controller: 'interface', statusFields: ['ifname', 'up', 'operState', 'mac', 'addresses'],
  description: 'Names a kernel interface so other resources can refer to it.',
});
