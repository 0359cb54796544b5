import { timingSafeEqual, createHash } from 'node:crypto';
import type { Express, Request, Response } from 'express';
import { invalidArgument } from '../errors.js';
import { publicActivationId, type ActivationService } from './activation-service.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time check of `Authorization: Bearer <ADMIN_TOKEN>`. */
export function isAdmin(req: Request, adminToken: string | undefined): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (!adminToken || !m) return false;
  return timingSafeEqual(digest(m[1]!.trim()), digest(adminToken));
}

export function mountAdminRoutes(
  app: Express,
  deps: { activation: ActivationService; adminToken: string | undefined },
): void {
  const admin = (req: Request, res: Response): boolean => {
    if (isAdmin(req, deps.adminToken)) return true;
    res.setHeader('www-authenticate', 'Bearer realm="dotm-admin"');
    res.status(401).json({
      error: 'unauthorized',
      message: deps.adminToken ? 'Send Authorization: Bearer <ADMIN_TOKEN>.' : 'ADMIN_TOKEN is not configured on this server.',
    });
    return false;
  };

  app.get('/admin/rate-limit', async (req, res) => {
    if (!admin(req, res)) return;
    res.json(await deps.activation.stats());
  });

  // Retry a failed activation (the user paid; the carrier refused): it joins the end of the queue.
  app.post('/admin/activations/:id/requeue', async (req, res) => {
    if (!admin(req, res)) return;
    const id = Number(/^(?:act_)?(\d{1,15})$/.exec(req.params.id)?.[1]);
    if (!Number.isSafeInteger(id)) throw invalidArgument('The id must look like act_123 or 123.');
    const { activation: requeued, standing } = await deps.activation.requeueFailed(id);
    const { position, estimatedWaitMinutes } = standing;
    req.log?.info({ activationId: id, requeuedAs: requeued.id, position }, 'failed activation requeued by an operator');
    res.json({
      activation_id: publicActivationId(requeued.id),
      replaces: publicActivationId(id),
      status: requeued.status,
      queue_position: position,
      estimated_wait_minutes: estimatedWaitMinutes,
    });
  });
}
