import { Duration, Fn } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface MonitoringProps {
  /** The functions to watch, by name; each one's timeout sets its duration alarm. */
  readonly functions: Record<string, lambda.Function>;
  readonly deliveryQueue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  readonly fanoutDeadLetterQueue: sqs.IQueue;
  /** The FIFO delivery queue of ordered subscriptions. */
  readonly orderedQueue?: sqs.IQueue;
  /** The FIFO queue's own DLQ (crashes and poison messages of ordered subscriptions). */
  readonly orderedDeadLetterQueue?: sqs.IQueue;
  /** The enterprise targets' dead-letter queues, by target name. @default none */
  readonly enterpriseDeadLetterQueues?: Record<string, sqs.IQueue>;
  /** The Herald table and its GSI names: throttling on either slows or fails every path. */
  readonly table?: dynamodb.ITable;
  readonly tableIndexes?: readonly string[];
  /** The API's deployed stage: its 5xx metric carries the API's real name and the stage. */
  readonly apiStage: apigateway.Stage;
  /** The rule feeding the fan-out function: its failed invocations are lost-event risks. */
  readonly fanoutRule: events.Rule;
  /** The Herald bus the fan-out rule sits on. */
  readonly bus: events.IEventBus;
  /** Where alarm notifications go by email. @default no email subscription */
  readonly alarmEmail?: string;
  /** Add the dashboard (it costs $3 a month beyond an account's three free ones; the alarms do not need it). */
  readonly dashboard?: boolean;
  /**
   * Delivery jobs due now (visible) that the deliver function has not picked up: the queue never
   * dropped below this many for 15 minutes. @default 500
   */
  readonly backlogThreshold?: number;
  /** Age of the oldest ordered (FIFO) delivery that raises an alarm. @default 7 days */
  readonly orderedMaxAge?: Duration;
}

/** The EMF namespace the functions write to (lambdas/shared/observability.ts). */
export const METRICS_NAMESPACE = 'Herald';

/** SQS's limit of in-flight messages on a standard queue; receives fail beyond it. */
export const SQS_IN_FLIGHT_LIMIT = 120_000;

/** A function alarms when its p99 duration passes this share of its timeout. */
export const NEAR_TIMEOUT_SHARE = 0.8;

/**
 * Operator alarms to an SNS topic (new dead letters on every DLQ, a delivery backlog, old
 * ordered deliveries, messages in flight near SQS's limit, fan-out failures, table throttling,
 * function errors, throttles and durations near the timeout, API 5xx), and, when asked for, a
 * dashboard of the same signals plus Herald's own delivery metrics.
 */
export class Monitoring extends Construct {
  public readonly topic: sns.Topic;
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly dashboard?: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'AlarmTopic', { enforceSSL: true, masterKey: undefined });
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    const action = new actions.SnsAction(this.topic);
    const alarm = (name: string, metric: cloudwatch.IMetric, threshold: number, description: string, options: Partial<cloudwatch.AlarmProps> = {}) => {
      const created = new cloudwatch.Alarm(this, name, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
        ...options,
      });
      created.addAlarmAction(action);
      this.alarms.push(created);
      return created;
    };
    const minute = Duration.minutes(1);

    // New dead letters, not the level: a DLQ keeps its messages up to 14 days, and an alarm on
    // "messages present" would stay in ALARM all that time, so later dead letters notify nobody.
    // Arrivals are either a SendMessage (the deliver function parking a job, EventBridge and
    // Lambda destinations: NumberOfMessagesSent) or an SQS redrive move, which that metric does
    // not count, seen as the visible count going up. Missing points are an empty, idle queue.
    const arrivals = (queue: sqs.IQueue) =>
      new cloudwatch.MathExpression({
        expression: 'IF(FILL(sent, 0) > 0 || DIFF(FILL(visible, 0)) > 0, 1, 0)',
        usingMetrics: {
          sent: queue.metricNumberOfMessagesSent({ period: minute, statistic: 'Sum' }),
          visible: queue.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum' }),
        },
        label: 'new dead letters',
        period: minute,
      });
    alarm('DeadLetterArrivals', arrivals(props.deadLetterQueue), 0,
      'New dead letters: deliveries exhausted their retry policy or crashed the worker. See GET /v1/dead-letters, then redrive.');
    if (props.orderedDeadLetterQueue) {
      alarm('OrderedDeadLetterArrivals', arrivals(props.orderedDeadLetterQueue), 0,
        'New dead letters on the FIFO DLQ: ordered deliveries crashed the worker repeatedly. Inspect the FIFO dead-letter queue.');
    }
    alarm('FanoutDeadLetterArrivals', arrivals(props.fanoutDeadLetterQueue), 0,
      'Published events that could not be fanned out (EventBridge gave up handing them over, or the fan-out function failed them 3 times): inspect the fan-out DLQ.');
    for (const [name, queue] of Object.entries(props.enterpriseDeadLetterQueues ?? {})) {
      alarm(`EnterpriseTarget${name}DeadLetterArrivals`, arrivals(queue), 0,
        `Events EventBridge could not deliver to the enterprise target ${name} within its retry policy: inspect its DLQ.`);
    }

    // A backlog, not the age of the oldest job: the delivery queue holds jobs hidden until their
    // next retry (gaps up to SQS's 12 h visibility, set by tenants' retry policies), so during
    // any customer's outage the oldest message is hours old and no age threshold separates that
    // from Herald falling behind. Visible messages are only jobs due now (waiting retries are
    // not visible, delayed re-enqueues are "delayed"), which a healthy consumer takes within
    // seconds: the queue not once dropping under the threshold for 15 minutes is Herald's fault.
    alarm('DeliveriesBacklogged', props.deliveryQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Minimum' }),
      props.backlogThreshold ?? 500, 'Delivery jobs that are due are not being picked up (deliver function throttled, failing or at its concurrency limit).',
      { evaluationPeriods: 3, datapointsToAlarm: 3 });
    // Every retry of a job is hidden, so in-flight messages grow with customers' outages; at
    // SQS's limit receives fail and every delivery stops.
    alarm('DeliveriesInFlight', props.deliveryQueue.metricApproximateNumberOfMessagesNotVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      Math.round(SQS_IN_FLIGHT_LIMIT * 0.8),
      `Delivery jobs in flight (mostly waiting retries) near SQS's ${SQS_IN_FLIGHT_LIMIT.toLocaleString('en')} limit: find the failing endpoints (GET /v1/stats), pause their subscriptions.`);
    if (props.orderedQueue) {
      // A subject whose wait passes 5 minutes (or its 50th receive) is held in the table, not
      // in the queue (core/order-hold.ts), so a message this old means a group that stopped
      // moving. 7 days, the longest preset, keeps the alarm quiet for any policy that still runs;
      // past it the message heads for SQS's 14-day retention, which deletes it.
      alarm('OrderedDeliveriesAging', props.orderedQueue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' }),
        (props.orderedMaxAge ?? Duration.days(7)).toSeconds(),
        'An ordered delivery message has waited in the FIFO queue longer than any preset retry policy runs (long waits are held in the table): its group stopped moving, and SQS deletes it at 14 days. Find the subscription and subject in the deliver logs.');
    }

    // EventBridge publishes rule metrics of a custom bus with both dimensions, and the rule's
    // name (its Ref on a custom bus is "bus|rule").
    alarm('FanoutRuleFailures', new cloudwatch.Metric({
      namespace: 'AWS/Events',
      metricName: 'FailedInvocations',
      dimensionsMap: { EventBusName: props.bus.eventBusName, RuleName: Fn.select(1, Fn.split('|', props.fanoutRule.ruleName)) },
      period: Duration.minutes(5),
      statistic: 'Sum',
    }), 0, 'EventBridge could not invoke the fan-out function (events go to the fan-out DLQ after retries).');

    if (props.table) {
      const throttles: Record<string, cloudwatch.IMetric> = {};
      for (const [i, index] of [undefined, ...(props.tableIndexes ?? [])].entries()) {
        for (const kind of ['Read', 'Write']) {
          throttles[`${kind.toLowerCase()}${i}`] = new cloudwatch.Metric({
            namespace: 'AWS/DynamoDB',
            metricName: `${kind}ThrottleEvents`,
            dimensionsMap: index ? { TableName: props.table.tableName, GlobalSecondaryIndexName: index } : { TableName: props.table.tableName },
            period: Duration.minutes(5),
            statistic: 'Sum',
          });
        }
      }
      alarm('TableThrottles', new cloudwatch.MathExpression({
        expression: Object.keys(throttles).map((key) => `FILL(${key}, 0)`).join(' + '),
        usingMetrics: throttles,
        label: 'read and write throttle events (table and indexes)',
        period: Duration.minutes(5),
      }), 0, 'DynamoDB throttled reads or writes of the Herald table or its indexes (a hot key, or an account/table limit).');
    }

    for (const [name, fn] of Object.entries(props.functions)) {
      alarm(`${name}Errors`, fn.metricErrors({ period: Duration.minutes(5) }), 0, `${name} function errors`);
      alarm(`${name}Throttles`, fn.metricThrottles({ period: Duration.minutes(5) }), 0, `${name} function throttles`);
      if (fn.timeout) {
        alarm(`${name}NearTimeout`, fn.metricDuration({ period: Duration.minutes(5), statistic: 'p99' }), fn.timeout.toMilliseconds() * NEAR_TIMEOUT_SHARE,
          `${name} function: p99 duration above ${NEAR_TIMEOUT_SHARE * 100}% of its ${fn.timeout.toSeconds()} s timeout`);
      }
    }
    alarm('Api5xx', props.apiStage.metricServerError({ period: Duration.minutes(5) }), 0, 'API answered 5xx');

    const herald = (metricName: string, statistic = 'Sum') =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: 'herald' }, period: Duration.minutes(5), statistic });
    // Fan-out drops anything Herald itself delivered (lambdas/fanout/handler.ts): one alarm, never a loop.
    alarm('LoopDetected', herald('loop_detected'), 0,
      'An event Herald delivered reached the Herald bus and was dropped: some bus or rule sends Herald its own deliveries back. Find the event id in the fan-out logs.');

    if (!props.dashboard) return;
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard');
    this.dashboard = dashboard;
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Delivery queue', left: [props.deliveryQueue.metricApproximateNumberOfMessagesVisible(), props.deliveryQueue.metricApproximateAgeOfOldestMessage()] }),
      new cloudwatch.GraphWidget({ title: 'Dead letters', left: [props.deadLetterQueue.metricApproximateNumberOfMessagesVisible(), props.fanoutDeadLetterQueue.metricApproximateNumberOfMessagesVisible()] }),
      new cloudwatch.GraphWidget({ title: 'API', left: [props.apiStage.metricCount(), props.apiStage.metricClientError(), props.apiStage.metricServerError()], right: [props.apiStage.metricLatency()] }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Deliveries',
        left: [herald('deliveries_succeeded'), herald('deliveries_retry'), herald('deliveries_failed'), herald('deliveries_held')],
      }),
      new cloudwatch.GraphWidget({ title: 'Endpoint response time', left: [herald('attempt_duration', 'p50'), herald('attempt_duration', 'p95')] }),
    );
    dashboard.addWidgets(
      ...Object.entries(props.functions).map(
        ([name, fn]) => new cloudwatch.GraphWidget({ title: `${name} function`, left: [fn.metricInvocations(), fn.metricErrors(), fn.metricThrottles()], right: [fn.metricDuration()] }),
      ),
    );
  }
}
