import { createApp } from 'vue';
import 'bootstrap/dist/css/bootstrap.min.css';
import './styles.css';
import App from './App.vue';
import { api } from './api/client';
import { router } from './router';
import { reportRefusal } from './stores/refusal';
import { handleUnauthorized, session } from './stores/session';

// Every request carries the tab's token; a 401 sends the tab to sign-in, a 403/429 is shown.
api.setAuthHooks({
  token: () => session.state.token,
  onUnauthorized: () => handleUnauthorized(session, router),
  onRefused: reportRefusal,
});

createApp(App).use(router).mount('#app');
