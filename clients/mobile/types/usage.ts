// How a mobile screen uses the generated types (schema.ts, operations.ts), and the check that holds them:
// tests/test_typed_artifacts.py type-checks this file against freshly generated types, so a schema change
// that would break a mobile app (a field removed, a result that may now be null, an input that is now
// required) fails CI here, at the line that would break in the app. Not generated: edit it by hand.
import type {
  LiveSessionStatus,
  MobileBookSlotMutation,
  MobileBookSlotMutationVariables,
  MobileCourseHistoryQueryVariables,
  MobileCreditsQuery,
  MobileJoinAvailabilitySubscription,
  MobileSessionDetailsQuery,
  MobileTodayQuery,
  MobileUpNextQuery,
  SessionListItemFragment,
} from './operations';

// One line of a list: the fragment's type serves every list that spreads it.
export function listLine(item: SessionListItemFragment): string {
  const starts = new Date(item.startsAt);
  const join = item.joinAvailability.isOpen ? ' · Join' : '';
  return `${starts.toISOString().slice(11, 16)} ${item.course.title}${join}`;
}

export function todayLines(data: MobileTodayQuery): string[] {
  return (data.viewer?.schedule.today ?? []).map(listLine);
}

// The Up Next card: null when there is nothing to join; the link only once the window is open.
export function upNextCard(data: MobileUpNextQuery): { title: string; code: string; opensAt: Date; url: string | null } | null {
  const next = data.viewer?.schedule.upNext;
  if (!next) return null;
  return {
    title: `${next.course.title} with ${next.instructor.displayName}`,
    code: next.code,
    opensAt: new Date(next.joinAvailability.opensAt),
    url: next.joinAvailability.isOpen ? next.joinAvailability.url : null,
  };
}

// `node(id:)` answers any type: the details screen narrows to a LiveSession by a field it selected.
export function detailsTitle(data: MobileSessionDetailsQuery): string | null {
  const node = data.node;
  if (!node || !('code' in node)) return null;
  const where = node.location?.isVirtual ? 'online' : (node.location?.room ?? node.location?.name ?? '');
  return `${node.code} ${node.course.title} ${where}`.trim();
}

export function joinButton(event: MobileJoinAvailabilitySubscription): { enabled: boolean; url: string | null } {
  return { enabled: event.joinAvailability.isOpen, url: event.joinAvailability.url };
}

export function balanceLine(data: MobileCreditsQuery): string {
  return `${data.viewer?.credits.balance ?? 0} credits`;
}

// Variables: the required ones must be given, optional ones may be left out, enums are checked.
export function bookVariables(slotId: string): MobileBookSlotMutationVariables {
  return { input: { slotId } };
}

export function historyVariables(courseId: string, status: LiveSessionStatus = 'COMPLETED'): MobileCourseHistoryQueryVariables {
  return { courseId, status, first: 20 };
}

// A refusal comes back as errors with a code, next to a null booking.
export function bookingOutcome(data: MobileBookSlotMutation): string {
  const booking = data.bookSlot.booking;
  if (booking) return `${booking.status} ${listLine(booking.liveSession)}`;
  return data.bookSlot.errors.map((error) => `${error.code}: ${error.message}`).join('\n');
}
