import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router';
import { decideRoute, type Action } from './lib/auth';
import { session } from './stores/session';
import { clearRefusal, showRefusal } from './stores/refusal';
import JobsView from './views/JobsView.vue';

declare module 'vue-router' {
  interface RouteMeta {
    title?: string;
    /** What the page is for; a role that may not do it is kept out (the server refuses anyway). */
    action?: Action;
  }
}

const routes: RouteRecordRaw[] = [
  { path: '/', redirect: '/jobs' },
  { path: '/signin', name: 'signin', component: () => import('./views/SignInView.vue'), meta: { title: 'Sign in' } },
  { path: '/jobs', name: 'jobs', component: JobsView, meta: { title: 'Jobs' } },
  {
    path: '/jobs/new',
    name: 'job-new',
    component: () => import('./views/JobEditView.vue'),
    meta: { title: 'New job', action: 'create_job' },
  },
  { path: '/jobs/:name', name: 'job', component: () => import('./views/JobView.vue'), props: true, meta: { title: 'Job' } },
  {
    path: '/jobs/:name/edit',
    name: 'job-edit',
    component: () => import('./views/JobEditView.vue'),
    props: true,
    meta: { title: 'Edit job', action: 'edit_job' },
  },
  { path: '/cluster', name: 'cluster', component: () => import('./views/ClusterView.vue'), meta: { title: 'Cluster' } },
  { path: '/dashboard', name: 'dashboard', component: () => import('./views/DashboardView.vue'), meta: { title: 'Dashboard' } },
  { path: '/tokens', name: 'tokens', component: () => import('./views/TokensView.vue'), meta: { title: 'Tokens', action: 'manage_tokens' } },
  { path: '/audit', name: 'audit', component: () => import('./views/AuditView.vue'), meta: { title: 'Audit', action: 'read_audit' } },
  { path: '/:rest(.*)*', name: 'not-found', component: () => import('./views/NotFoundView.vue'), meta: { title: 'Not found' } },
];

// History mode under /ui/: the master serves index.html for every /ui/* path it has no file for.
export const router = createRouter({
  history: createWebHistory(import.meta.env.BASE_URL),
  routes,
  scrollBehavior: () => ({ top: 0 }),
});

router.beforeEach(async (to) => {
  await session.load();
  const d = decideRoute(
    { name: to.name, fullPath: to.fullPath, query: to.query, action: to.meta.action },
    { needsSignIn: session.needsSignIn(), role: session.state.principal?.role },
  );
  switch (d.kind) {
    case 'go':
      return true;
    case 'signin':
      return { name: 'signin', query: { redirect: d.redirect } };
    case 'skip-signin':
      return d.to;
    case 'forbidden':
      showRefusal(`Not allowed: the ${session.state.principal?.role ?? 'current'} role may not open ${to.meta.title ?? to.fullPath}.`);
      return '/jobs';
  }
});

router.afterEach((to) => {
  // A refusal belongs to the page it happened on; the one that redirected here stays.
  if (!to.redirectedFrom) clearRefusal();
  const title = typeof to.meta.title === 'string' ? to.meta.title : '';
  const name = typeof to.params.name === 'string' ? to.params.name : '';
  document.title = [name || title, 'Hourglass'].filter(Boolean).join(' · ');
});
