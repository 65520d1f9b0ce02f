import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router';
import JobsView from './views/JobsView.vue';

const routes: RouteRecordRaw[] = [
  { path: '/', redirect: '/jobs' },
  { path: '/jobs', name: 'jobs', component: JobsView, meta: { title: 'Jobs' } },
  { path: '/jobs/new', name: 'job-new', component: () => import('./views/JobEditView.vue'), meta: { title: 'New job' } },
  { path: '/jobs/:name', name: 'job', component: () => import('./views/JobView.vue'), props: true, meta: { title: 'Job' } },
  {
    path: '/jobs/:name/edit',
    name: 'job-edit',
    component: () => import('./views/JobEditView.vue'),
    props: true,
    meta: { title: 'Edit job' },
  },
  { path: '/cluster', name: 'cluster', component: () => import('./views/ClusterView.vue'), meta: { title: 'Cluster' } },
  { path: '/dashboard', name: 'dashboard', component: () => import('./views/DashboardView.vue'), meta: { title: 'Dashboard' } },
  { path: '/:rest(.*)*', name: 'not-found', component: () => import('./views/NotFoundView.vue'), meta: { title: 'Not found' } },
];

// History mode under /ui/: the master serves index.html for every /ui/* path it has no file for.
export const router = createRouter({
  history: createWebHistory(import.meta.env.BASE_URL),
  routes,
  scrollBehavior: () => ({ top: 0 }),
});

router.afterEach((to) => {
  const title = typeof to.meta.title === 'string' ? to.meta.title : '';
  const name = typeof to.params.name === 'string' ? to.params.name : '';
  document.title = [name || title, 'Hourglass'].filter(Boolean).join(' · ');
});
