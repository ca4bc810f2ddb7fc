// The network-namespace lab: topology (two routers, client, server), the Host
// that runs inside a node, and bounded traffic helpers.
export {
  createLab,
  destroyLab,
  labPrefix,
  labMounts,
  listNetns,
  LAB_ADDRESSES,
  LAB_NODE_NAMES,
  LAB_PRIVATE_DIRS,
} from './topology.ts';
export type { Lab, LabAddresses, LabNode, LabNodeAddresses, LabNodeName, LabOptions, LabSegment } from './topology.ts';
export { NamespaceHost } from './nshost.ts';
export type { NamespaceHostOptions } from './nshost.ts';
export { probeTcp, reached, startEchoFlows, startEchoServer, startTcpEchoServer } from './traffic.ts';
export type {
  EchoFlows,
  EchoFlowsOptions,
  EchoServer,
  EchoServerOptions,
  EchoServerStats,
  FlowProtocol,
  FlowReport,
  FlowStats,
  FlowSummary,
  FlowsReady,
  ProbeOutcome,
  ProbeResult,
  TrafficNode,
} from './traffic.ts';
