// What a resource's route module is given: the router to add its routes to, the answer wrapper,
// the store and the shared answer helpers.
import type { Router } from 'express';
import type { RenderContext } from '../render.js';
import type { LocalStripeStore } from '../store.js';
import type { Route } from './answer.js';
import type { Expand } from './expand.js';

export interface Resources {
  api: Router;
  route: Route;
  store: LocalStripeStore;
  render: RenderContext;
  expand: Expand;
}
