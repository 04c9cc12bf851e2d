// The in-app notifications, newest first, kept live by the notification stream (Server-Sent Events): a new one appears
// at the top and is announced; read one by one or all at once.
import { streamNotifications } from '@lms/client';
import type { InboxItem } from '@lms/contracts';
import { useInfiniteQuery, useMutation, useQueryClient, type InfiniteData } from '@tanstack/react-query';
import { useRouter } from '@tanstack/react-router';
import { useEffect, useRef, useState, type MouseEvent } from 'react';
import { api, authFetch } from '../api.ts';
import { useAccountI18n } from './account-i18n.ts';
import { Button, ErrorMessage, Loading, PageTitle } from '../ui.tsx';
import { formatDateTime } from './account-ui.tsx';

type InboxPage = Awaited<ReturnType<typeof api.notifications.inbox.query>>;
const INBOX = ['inbox'] as const;

/** Keeps the inbox live while the page is open: each item the stream brings goes on top of the first page. */
function useLiveInbox(onItem: (item: InboxItem) => void) {
  const queryClient = useQueryClient();
  const [live, setLive] = useState(false);
  // The latest callback (it speaks the current language); the stream itself stays open across re-renders.
  const itemHandler = useRef(onItem);
  itemHandler.current = onItem;
  useEffect(() => {
    const ctrl = new AbortController();
    void (async () => {
      for (let attempt = 0; !ctrl.signal.aborted; attempt++) {
        try {
          const reason = await streamNotifications({
            url: window.location.origin,
            fetch: authFetch, // the session's token, refreshed when it expires (the server ends the stream then)
            signal: ctrl.signal,
            onOpen: () => {
              attempt = 0;
              setLive(true);
              // What arrived while the stream was down.
              void queryClient.invalidateQueries({ queryKey: INBOX });
            },
            onNotification: (item) => {
              queryClient.setQueryData<InfiniteData<InboxPage>>(INBOX, (d) =>
                d && !d.pages.some((p) => p.items.some((i) => i.id === item.id))
                  ? { ...d, pages: d.pages.map((p, n) => (n === 0 ? { ...p, items: [item, ...p.items], unreadCount: p.unreadCount + 1 } : p)) }
                  : d,
              );
              itemHandler.current(item);
            },
          });
          if (reason === 'session_ended') return;
        } catch (err) {
          if (ctrl.signal.aborted || (err as { status?: number }).status === 401) return;
        }
        setLive(false);
        // Back off a little (1 s, 2 s… 30 s) so a gateway that is down is not hammered.
        await new Promise((r) => setTimeout(r, Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5))));
      }
    })();
    return () => ctrl.abort();
  }, []);
  return live;
}

export function Inbox() {
  const { t, locale } = useAccountI18n();
  const router = useRouter();
  const queryClient = useQueryClient();
  const [announce, setAnnounce] = useState('');
  const live = useLiveInbox((item) => setAnnounce(t('inboxNew', { title: item.title })));
  const inbox = useInfiniteQuery({
    queryKey: INBOX,
    queryFn: ({ pageParam }) => api.notifications.inbox.query({ limit: 20, ...(pageParam ? { cursor: pageParam } : {}) }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const markRead = useMutation({
    mutationFn: (notificationId: string) => api.notifications.markRead.mutate({ notificationId }),
    onSuccess: (item) =>
      queryClient.setQueryData<InfiniteData<InboxPage>>(INBOX, (d) =>
        d
          ? {
              ...d,
              pages: d.pages.map((p, n) => ({
                ...p,
                items: p.items.map((i) => (i.id === item.id ? item : i)),
                unreadCount: n === 0 ? Math.max(0, p.unreadCount - 1) : p.unreadCount,
              })),
            }
          : d,
      ),
  });
  const markAll = useMutation({
    mutationFn: () => api.notifications.markAllRead.mutate({}),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: INBOX }),
  });
  const items = inbox.data?.pages.flatMap((p) => p.items) ?? [];
  const unread = inbox.data?.pages[0]?.unreadCount ?? 0;

  /** A link inside the app opens as a page of the app; any other opens as usual. */
  const open = (e: MouseEvent<HTMLAnchorElement>, link: string) => {
    const url = new URL(link, window.location.origin);
    if (url.origin !== window.location.origin || e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    router.history.push(url.pathname + url.search + url.hash);
  };

  return (
    <>
      <PageTitle>{t('inboxTitle')}</PageTitle>
      <p className="muted">
        {t('inboxUnread', { n: unread })} · {live ? t('inboxLive') : t('inboxOffline')}
      </p>
      <p className="sr-only" role="status" aria-live="polite">
        {announce}
      </p>
      {inbox.isPending ? <Loading /> : null}
      <ErrorMessage error={inbox.error ?? markRead.error ?? markAll.error ?? undefined} />
      {unread > 0 ? (
        <Button variant="secondary" isPending={markAll.isPending} onPress={() => markAll.mutate()}>
          {t('inboxMarkAll')}
        </Button>
      ) : null}
      {inbox.data && items.length === 0 ? <p>{t('inboxEmpty')}</p> : null}
      <ul className="inbox" aria-label={t('inboxTitle')}>
        {items.map((n) => (
          <li key={n.id} className={n.readAt ? 'inbox-item' : 'inbox-item unread'}>
            <h2 className="inbox-title">
              {n.readAt ? null : <span className="sr-only">{t('inboxUnreadMark')} </span>}
              {n.link ? (
                <a href={n.link} onClick={(e) => open(e, n.link ?? '')}>
                  {n.title}
                </a>
              ) : (
                n.title
              )}
            </h2>
            <p className="muted">{formatDateTime(locale, n.createdAt)}</p>
            <p className="description">{n.body}</p>
            {n.readAt ? null : (
              <Button
                variant="secondary"
                isPending={markRead.isPending && markRead.variables === n.id}
                onPress={() => markRead.mutate(n.id)}
                aria-label={t('inboxMarkReadNamed', { title: n.title })}
              >
                {t('inboxMarkRead')}
              </Button>
            )}
          </li>
        ))}
      </ul>
      {inbox.hasNextPage ? (
        <Button variant="secondary" isPending={inbox.isFetchingNextPage} onPress={() => void inbox.fetchNextPage()}>
          {t('inboxMore')}
        </Button>
      ) : null}
    </>
  );
}
