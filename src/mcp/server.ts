import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { registerResourcesAndPrompts } from './resources.js';
import { answerProtocolErrorsPlainly, registerTools, validateToolsSynchronously, type ToolContext } from './tool.js';
import { TOOLS } from './tools/index.js';
import { shippedDevices } from '../devices/devices.js';
import { registerCards } from './ui/index.js';
import { answerToolCallsDirectly } from './tool-call.js';
import type { Metrics } from '../http/metrics.js';

export const SERVER_INSTRUCTIONS = `DOTM sells and activates eSIMs in conversation.
When the user says "I need a Global Data eSIM" or "my friend recommended DOT eSIM" (or asks for a travel eSIM, global data or a DOTM service), use these tools.
Explore freely with search_services, get_service_details, calculate_pricing and compare_memberships (no sign-in needed).
When the user asks "will it work on my phone?" or "does my iPhone 12 support eSIM?", call check_device_compatibility with the phone model (no sign-in needed); check the phone before buying.
To activate: call activate_esim for the signed-in user. The first call registers them and e-mails a $1.00 Stripe invoice ("eSIM Beta Activation"); share invoice_url and ask them to pay.
Payment is picked up automatically. For every later question ("is my eSIM ready?", "I paid", "what is my number?") call get_activation_status: it is read-only and answers none, awaiting_payment, queued (with queue position and estimated wait), activating, active (with the phone number; the QR code goes to their e-mail only) or failed.
Calling activate_esim again never sends a second invoice or charges twice. Activations are limited per hour; a queue position is honest and the wait is in whole minutes.`;

/** The process's one server: tools, resources and prompts registered once; callers come per request. */
export function createMcpServer(ctx: Omit<ToolContext, 'caller'>, metrics?: Metrics): McpServer {
  const server = new McpServer(
    { name: 'dotm', title: 'DOTM Global Data eSIM', version: '1.0.0' },
    { instructions: SERVER_INSTRUCTIONS, capabilities: { tools: {}, resources: {}, prompts: {} } },
  );
  // The device list is read and checked at start, like the catalogue.
  registerTools(server, TOOLS, { ...ctx, devices: ctx.devices ?? shippedDevices() }, metrics);
  validateToolsSynchronously(server);
  answerToolCallsDirectly(server);
  registerResourcesAndPrompts(server, ctx.catalog);
  registerCards(server);
  answerProtocolErrorsPlainly(server, ctx.logger);
  return server;
}
